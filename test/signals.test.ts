// A tap killed politely stops at a clean point with a final STATE; a target
// that goes away (EPIPE) stops the tap at once instead of hanging it.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator } from "../simulator/index.ts";
import type { Simulator } from "../simulator/index.ts";
import { command, parseMessages, ROOT, runTap, RUNTIMES, tempFiles } from "./helpers/tap.ts";

let sim: Simulator;
let config: string;

beforeAll(async () => {
  // Slow pages so that a signal lands mid-stream.
  sim = await startSimulator({ apps: 3000, sizes: { "/apps": 3000 }, latencyMs: 1000 });
  config = tempFiles({ "c.json": { token: "test-token", api_url: sim.url, postgres: { enabled: false } } })["c.json"]!;
});
afterAll(() => sim.close());

const selectApps = async () => {
  const catalog = JSON.parse((await runTap(["--config", config, "--discover"])).stdout);
  for (const s of catalog.streams) s.metadata[0].metadata.selected = s.tap_stream_id === "apps";
  return tempFiles({ "cat.json": catalog })["cat.json"]!;
};

describe.each(RUNTIMES)("on %s", (runtime) => {
  it.each(
    [
      ["SIGTERM", 143],
      ["SIGINT", 130],
    ] as const,
  )("%s stops at a clean point, writes a final STATE and exits %i", async (signal, code) => {
    const catalog = await selectApps();
    sim.resetLog();
    const run = await runTap(["--config", config, "--catalog", catalog], {
      runtime,
      onSpawn: (child) => {
        // Once Heroku has served the first page of apps, the stream is under way and
        // slow pages remain (stdout timing is no guide: output comes in 64 KiB chunks).
        const poll = setInterval(() => {
          if (sim.requests.some((r) => r.path === "/apps" && r.status !== 0)) {
            clearInterval(poll);
            child.kill(signal);
          }
        }, 20);
        child.on("close", () => clearInterval(poll));
      },
    });
    expect(run.code, run.stderr).toBe(code);
    const messages = run.messages();
    expect(messages.at(-1)!.type).toBe("STATE");
    expect(run.stderr).toMatch(new RegExp(`${signal} received`));
    expect(run.stderr).toMatch(/rerun with the last STATE/);
    // It stopped early: not every app was written.
    expect(messages.filter((m) => m.type === "RECORD").length).toBeLessThan(3000);
    const state = messages.at(-1) as unknown as { value: { currently_syncing: string | null } };
    expect(state.value.currently_syncing).toBe("apps");
  });

  it("stops at once with a clear message when the reader closes stdout", async () => {
    const catalog = await selectApps();
    const [cmd, pre] = command(runtime);
    const child = spawn(cmd, [...pre, "--config", config, "--catalog", catalog], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    let first = "";
    child.stdout.once("data", (d: Buffer) => {
      first = d.toString("utf8");
      child.stdout.destroy(); // the target went away
    });
    const started = Date.now();
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(parseMessages(first.split("\n")[0]!)[0]!.type).toBe("SCHEMA");
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/stdout was closed by the reader \(broken pipe\)/);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

// A run can wait a long time on Heroku: a rate-limit pause of up to a minute per
// 429, a request that hangs until request_timeout_s and is then retried. A
// signal must end such a wait at once, not after it.
describe.each(RUNTIMES)("on %s, a signal during a long wait", (runtime) => {
  /** Runs a sync of apps against `apiUrl`, sends SIGTERM when `ready()` holds; returns the run and how long the stop took. */
  async function stopDuringWait(apiUrl: string, ready: () => boolean) {
    const files = tempFiles({
      "c.json": { token: "test-token", api_url: apiUrl, postgres: { enabled: false }, rate_limit: { refill_per_minute: 1 } },
    });
    let signalledAt = 0;
    const run = await runTap(["--config", files["c.json"]!], {
      runtime,
      timeoutMs: 60_000,
      onSpawn: (child) => {
        const poll = setInterval(() => {
          if (!ready()) return;
          clearInterval(poll);
          signalledAt = Date.now();
          child.kill("SIGTERM");
        }, 20);
        child.on("close", () => clearInterval(poll));
      },
    });
    return { run, stopMs: Date.now() - signalledAt };
  }

  it("a rate-limit pause (429): exit 143 within seconds, with the state", async () => {
    const limited = await startSimulator({ apps: 5, rateLimit: { bucket: 0, refillPerMinute: 0.01 } });
    try {
      const { run, stopMs } = await stopDuringWait(limited.url, () => limited.requests.some((r) => r.status === 429));
      expect(run.code, run.stderr).toBe(143);
      expect(run.stderr).toMatch(/rate limited \(429/); // it was waiting (a minute, at one refill a minute)
      expect(stopMs).toBeLessThan(10_000);
      expect(run.messages().at(-1)!.type).toBe("STATE");
    } finally {
      await limited.close();
    }
  });

  it("a request Heroku never answers: exit 143 within seconds, with the state", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket)); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const { port } = silent.address() as AddressInfo;
      const { run, stopMs } = await stopDuringWait(`http://127.0.0.1:${port}`, () => sockets.length > 0);
      expect(run.code, run.stderr).toBe(143);
      expect(stopMs).toBeLessThan(10_000); // not request_timeout_s (30 s) times the retries
      expect(run.messages().at(-1)!.type).toBe("STATE");
      expect(run.stderr).toMatch(/rerun with the last STATE/);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});
