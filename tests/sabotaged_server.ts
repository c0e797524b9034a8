/**
 * The real app in a process of its own, with one worker sabotaged by the pool's test hook: tests that
 * measure the process's memory (RSS) run it here, apart from the test runner's other files. Arguments: the
 * settings as JSON, and the sabotage ("runaway": the worker's next job runs forever holding 512 MiB).
 * Prints the server's URL on one line.
 */
import { loadConfig } from "../config.ts";
import { createService } from "../app.ts";
import type { WorkerPool } from "../workers/pool.ts";

const env = JSON.parse(Deno.args[0] ?? "{}") as Record<string, string>;
const service = createService(loadConfig({ KV_PATH: "off", LOG_LEVEL: "error", BACKEND: "workers", ...env }));
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, service.fetch);
const kind = Deno.args[1] as "runaway" | undefined;
if (kind) (service.context.backend as WorkerPool).sabotage(kind);
console.log(`http://127.0.0.1:${server.addr.port}`);
