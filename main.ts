/**
 * The service module. `deno serve main.ts` and edge runtimes use its default export (`fetch`); where there
 * is no Worker, the `auto` backend runs the pipeline inline. `deno task start` (and Deno Deploy) run
 * `server.ts`, which listens on `EDGETILE_PORT` with this same handler.
 */
import { type Config, CONFIG_VARIABLES, envName, loadConfig } from "./config.ts";
import { createService } from "./app.ts";
import { errorText, flushLog, log } from "./telemetry/log.ts";
import { AWS_VARIABLES } from "./sources/s3_settings.ts";
import { AZURE_VARIABLES } from "./sources/azure.ts";

/**
 * The settings from their `EDGETILE_*` variables and the AWS and Azure ones object stores read (under their own names),
 * and only those (so `--allow-env` can name them).
 */
function readEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of Object.keys(CONFIG_VARIABLES)) env[name] = Deno.env.get(envName(name));
  for (const name of [...AWS_VARIABLES, ...AZURE_VARIABLES]) env[name] = Deno.env.get(name);
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

/**
 * The fetch handler (for `deno serve` and edge runtimes), and the line that says where it listens: through the
 * service's log (JSON in JSON mode), where `deno serve` printed a plain "Listening on" line of its own.
 */
export default {
  fetch: service.fetch,
  onListen: ({ hostname, port }: { hostname: string; port: number }) =>
    log().info(`edgetile on http://${hostname === "0.0.0.0" ? "localhost" : hostname}:${port} (deno serve)`, {
      hostname,
      port,
    }),
};

/** The longest a drain waits for the work in flight. */
export const DRAIN_MS = 10_000;

/**
 * On the first SIGTERM or SIGINT: log, run `finishWork` (at most `DRAIN_MS`; it says whether everything
 * finished), close the workers and KV, log how long it took, exit 0. Where there are no signals (Deno
 * Deploy) the platform ends the isolate and this does nothing.
 */
export function drainOnSignal(what: string, finishWork: () => Promise<unknown>) {
  let draining = false;
  const drain = async (signal: string) => {
    const t0 = performance.now();
    log().info(`edgetile: ${signal}: draining (${what} get up to ${DRAIN_MS / 1000} s)`);
    const finished = await Promise.race([
      finishWork().then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), DRAIN_MS)),
    ]);
    await service.close();
    log().info(
      `edgetile: stopped after ${Math.round(performance.now() - t0)} ms` +
        (finished ? "" : ` (${what} still running after ${DRAIN_MS / 1000} s were cut)`),
    );
    flushLog();
    Deno.exit(0);
  };
  try {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(signal, () => {
        if (draining) return;
        draining = true;
        drain(signal).catch((err) => {
          log().error(`edgetile: drain failed: ${errorText(err)}`);
          flushLog();
          Deno.exit(1);
        });
      });
    }
  } catch {
    // No signals here (an edge runtime).
  }
}

if (import.meta.main) {
  // Under `deno serve` this module is the main one. Deno stops accepting on SIGTERM/SIGINT but would wait for
  // ever: the workers and KV keep the process alive. Let the work in flight finish (bounded), close, exit 0.
  drainOnSignal("jobs in flight", async () => {
    while (service.context.backend.pending > 0) await new Promise((r) => setTimeout(r, 50));
  });
}
