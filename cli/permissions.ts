/**
 * The narrow permissions of `deno task start` and `deno task serve`, computed from the settings so a folder
 * of images or a KV file anywhere works without a blanket grant: the tasks splice this script's output into
 * their command line (`"--allow-read=$(deno run … cli/permissions.ts read)"`).
 *
 * - `read`: the project folder (code, viewer, samples), `EDGETILE_IMAGES_DIR`, the KV file's folder;
 * - `write`: the KV file's folder (Deno KV writes its SQLite journal beside the file), else `./data`;
 * - `net`: the listen addresses (loopback, any, `EDGETILE_HOSTNAME`) and the hosts of remote sources
 *   (`EDGETILE_ALLOWED_ORIGINS`, `EDGETILE_SOURCE_PREFIXES`, `EDGETILE_DICOMWEB`) and of a remote KV;
 * - `address`: `tcp:host:port` for `deno serve` (its `DENO_SERVE_ADDRESS`) (`EDGETILE_HOSTNAME`, `EDGETILE_PORT`).
 *
 * It reads only those variables and prints one comma-separated line.
 */

import { CONFIG_VARIABLES, envName } from "../config.ts";

/** The folder holding the KV file of `kvPath`, or null when KV is not a local file. */
export function kvFolder(kvPath: string): string | null {
  if (kvPath === "off" || kvPath === ":memory:" || kvPath === "default" || /^https?:\/\//.test(kvPath)) return null;
  const at = kvPath.lastIndexOf("/");
  return at < 0 ? "." : at === 0 ? "/" : kvPath.slice(0, at);
}

/** The hosts (`host:port`) of remote sources and of a remote KV: the only outbound connections. */
function remoteHosts(env: (name: string) => string | undefined): string[] {
  const urls = [
    ...(env("EDGETILE_ALLOWED_ORIGINS") ?? "").split(","),
    ...(env("EDGETILE_SOURCE_PREFIXES") ?? "").split(",").map((p) => p.slice(p.indexOf("=") + 1)),
    ...(env("EDGETILE_DICOMWEB") ?? "").split(",").map((p) => p.slice(p.indexOf("=") + 1)),
    env("EDGETILE_KV_PATH") ?? "",
    env("EDGETILE_CACHE_URL") ?? "",
  ];
  const hosts: string[] = [];
  for (const u of urls) {
    if (!/^(https?|rediss?):\/\//.test(u.trim())) continue;
    try {
      const url = new URL(u.trim());
      const port = url.port || { "https:": 443, "http:": 80, "redis:": 6379, "rediss:": 6379 }[url.protocol];
      hosts.push(`${url.hostname}:${port}`);
    } catch {
      // A bad URL is the service's to report (config.ts), with its variable's name.
    }
  }
  return hosts;
}

/** A setting's value, or its default from config.ts (one table of defaults for the service and its grants). */
function setting(env: (name: string) => string | undefined, name: "IMAGES_DIR" | "KV_PATH" | "HOSTNAME" | "PORT") {
  return env(envName(name)) || CONFIG_VARIABLES[name][0];
}

/** The value of one permission flag for `what`, from the settings in `env`. */
export function permissionList(what: string, env: (name: string) => string | undefined): string {
  const imagesDir = setting(env, "IMAGES_DIR");
  const kv = kvFolder(setting(env, "KV_PATH"));
  const list = (paths: string[]) => {
    for (const p of paths) {
      if (p.includes(",")) throw new Error(`a path with a comma cannot be granted: "${p}"`);
    }
    return [...new Set(paths)].join(",");
  };
  if (what === "read") return list([".", imagesDir, ...(kv ? [kv] : [])]);
  if (what === "write") return list([kv ?? "./data"]);
  if (what === "net") {
    const host = setting(env, "HOSTNAME");
    return list([
      "0.0.0.0",
      "127.0.0.1",
      "localhost",
      "[::]",
      host.includes(":") ? `[${host}]` : host,
      ...remoteHosts(env),
    ]);
  }
  if (what === "address") {
    const host = setting(env, "HOSTNAME");
    return `tcp:${host.includes(":") ? `[${host}]` : host}:${setting(env, "PORT")}`;
  }
  throw new Error(`usage: cli/permissions.ts read|write|net|address (got "${what}")`);
}

if (import.meta.main) {
  try {
    console.log(permissionList(Deno.args[0] ?? "", (name) => Deno.env.get(name)));
  } catch (err) {
    console.error(`edgetile: ${(err as Error).message}`);
    Deno.exit(2);
  }
}
