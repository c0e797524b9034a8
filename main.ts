/**
 * The service module. `deno serve main.ts` and Deno Deploy use its default export (`fetch`); there is no
 * Worker on Deploy, so the `auto` backend runs the pipeline inline. `deno task start` runs `server.ts`,
 * which listens on `EDGETILE_PORT` with this same handler.
 */
import { type Config, CONFIG_VARIABLES, envName, loadConfig } from "./config.ts";
import { createService } from "./app.ts";

/** The settings from their `EDGETILE_*` variables, and only those (so `--allow-env` can name them). */
function readEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of Object.keys(CONFIG_VARIABLES)) env[name] = Deno.env.get(envName(name));
  return env;
}

/** The settings, or one line and exit code 2 for a bad one (a start-up error, never a stack trace). */
function configOrExit(): Config {
  try {
    return loadConfig(readEnv(), Deno.args);
  } catch (err) {
    console.error(`edgetile: ${(err as Error).message}`);
    Deno.exit(2);
  }
}

/** The configuration in effect. */
export const config = configOrExit();
/** The service built from it. */
export const service = createService(config);

/** The fetch handler (for `deno serve` and Deno Deploy). */
export default { fetch: service.app.fetch };
