// bench/relay.ts as a process of its own, so the relay's copying runs on its
// own event loop rather than inside the bench process (which also serves the
// Heroku API simulator): `deno run -A bench/relay-main.ts <host> <port>
// <delayMs> [mbit]` prints the port it listens on, then relays until killed.
import process from "node:process";
import { startRelay } from "./relay.ts";

const [host, port, delay, mbit] = process.argv.slice(2);
const relay = await startRelay({ host: host!, port: Number(port), delayMs: Number(delay), ...(mbit ? { mbit: Number(mbit) } : {}) });
console.log(relay.port);
// The listener is unref'd; this keeps the process alive until the bench kills it.
setInterval(() => undefined, 1 << 30);
