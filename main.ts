/**
 * The service module. `deno serve main.ts` and Deno Deploy use its default export (`fetch`); there is no
 * Worker on Deploy, so the `auto` backend runs the pipeline inline. `deno task start` runs `server.ts`,
 * which listens on `EDGETILE_PORT` with this same handler.
 */
import { type Config, CONFIG_VARIABLES, envName, loadConfig } from "./config.ts";
import { createService } from "./app.ts";
import { flushLog, log } from "./telemetry/log.ts";

/** The settings from their `EDGETILE_*` variables, and only those (so `--allow-env` can name them). */
function readEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of Object.keys(CONFIG_VARIABLES)) env[name] = Deno.env.get(envName(name));
  return env;
}

/** Stops the start: one line on stderr and exit code 2 (never a stack trace). */
function fail(message: string): never {
  console.error(`edgetile: ${message}`);
  Deno.exit(2);
}

/** The settings, or `fail` for a bad one. */
function configOrExit(): Config {
  try {
    return loadConfig(readEnv(), Deno.args);
  } catch (err) {
    fail((err as Error).message);
  }
}

/** The images folder must be a folder this process may read (the start task grants exactly it). */
function checkImagesDir(dir: string) {
  if (Deno.permissions.querySync({ name: "read", path: dir }).state !== "granted") {
    fail(
      `no permission to read ${dir}: set EDGETILE_IMAGES_DIR=${dir} (deno task start grants read access to that folder only)`,
    );
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch (err) {
    fail(`EDGETILE_IMAGES_DIR: cannot open ${dir}: ${(err as Error).message}`);
  }
  if (!info.isDirectory) fail(`EDGETILE_IMAGES_DIR: ${dir} is not a folder`);
}

/** The configuration in effect. */
export const config = configOrExit();
checkImagesDir(config.imagesDir);
/** The service built from it. */
export const service = createService(config);
// A KV cache that cannot be opened is a start-up error, not a silently uncached service.
if (config.kvPath !== "off" && (await service.context.cache.store) === null) {
  fail(
    `EDGETILE_KV_PATH=${config.kvPath}: cannot open the KV cache: ${service.context.cache.kvOpenError} (or set it to off)`,
  );
}

/** The fetch handler (for `deno serve` and Deno Deploy). */
export default { fetch: service.app.fetch };

/** The longest `deno serve` waits on SIGTERM for the work in flight before it exits. */
const SERVE_DRAIN_MS = 10_000;

if (import.meta.main) {
  // Under `deno serve` this module is the main one. Deno stops accepting on SIGTERM/SIGINT but would wait for
  // ever: the workers and KV keep the process alive. Let the work in flight finish (bounded), close, exit 0.
  let draining = false;
  const stop = async (signal: string) => {
    if (draining) return;
    draining = true;
    const t0 = performance.now();
    log().info(`edgetile: ${signal}: draining (work in flight gets up to ${SERVE_DRAIN_MS / 1000} s)`);
    while (service.context.backend.pending > 0 && performance.now() - t0 < SERVE_DRAIN_MS) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await service.close();
    log().info(`edgetile: stopped after ${Math.round(performance.now() - t0)} ms`);
    flushLog();
    Deno.exit(0);
  };
  try {
    for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, () => void stop(signal));
  } catch {
    // No signals here (Deno Deploy): the platform ends the isolate.
  }
}
