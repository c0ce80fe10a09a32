// In-process tests run the tap's own code, whose info lines and metrics would
// otherwise fill the test log; warnings and errors still show. The CLI tests
// capture their subprocess's stderr and print it only in a failure message.
// LOG_LEVEL set for the test run wins (LOG_LEVEL=debug npm test shows everything).
import { configureLogging } from "../src/log.ts";

if (!process.env.LOG_LEVEL) configureLogging({ level: "warning" });
