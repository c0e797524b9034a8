/**
 * The narrow permissions of `deno task start` and `deno task serve`, computed from the settings so a folder
 * of images or a KV file anywhere works without a blanket grant: the tasks splice this script's output into
 * their command line (`"--allow-read=$(deno run … cli/permissions.ts read)"`).
 *
 * - `read`: the project folder (code, viewer, samples), `EDGETILE_IMAGES_DIR`, the KV file's folder;
 * - `write`: the KV file's folder (Deno KV writes its SQLite journal beside the file), else `./data`;
 * - `net`: the listen addresses (loopback, any, `EDGETILE_HOSTNAME`) and the hosts of remote sources
 *   (`EDGETILE_ALLOWED_ORIGINS`, `EDGETILE_SOURCE_PREFIXES`, `EDGETILE_DICOMWEB`, the S3 store of
 *   `EDGETILE_S3_BUCKETS`, the Azure endpoint of `EDGETILE_AZURE_CONTAINERS`) and of a remote KV or Redis; `read` also the AWS shared credentials and config files
 *   when S3 buckets are set;
 * - `env`: the whole `--allow-env` flag: the settings' variables (EDGETILE_*, AWS_*, AZURE_STORAGE_*);
 * - `address`: `tcp:host:port` for `deno serve` (its `DENO_SERVE_ADDRESS`) (`EDGETILE_HOSTNAME`, `EDGETILE_PORT`).
 *
 * It reads only those variables and prints one comma-separated line.
 */

import { CONFIG_VARIABLES, envName } from "../config.ts";
import { AWS_VARIABLES, awsFiles, parseS3Settings } from "../sources/s3_settings.ts";
import { AZURE_VARIABLES } from "../sources/azure.ts";
import { s3ObjectUrl } from "../sources/s3.ts";

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
    ...s3Origins(env),
    ...(env("EDGETILE_AZURE_CONTAINERS") ? [azureEndpoint(env)] : []),
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

/** The S3 store's origins: the endpoint's (path style), else each listed bucket's own host. */
function s3Origins(env: (name: string) => string | undefined): string[] {
  const all: Record<string, string | undefined> = {};
  for (
    const name of [
      "AWS_REGION",
      "AWS_DEFAULT_REGION",
      "AWS_PROFILE",
      "AWS_CONFIG_FILE",
      "AWS_ENDPOINT_URL_S3",
      "AWS_ENDPOINT_URL",
      "HOME",
    ]
  ) {
    all[name] = env(name);
  }
  try {
    const s3 = parseS3Settings(env("EDGETILE_S3_BUCKETS") ?? "", env("EDGETILE_S3_FORCE_PATH_STYLE") ?? "", all);
    return s3.buckets.map((b) => s3ObjectUrl(`s3://${b}/k`, s3).origin);
  } catch {
    return []; // A bad setting is the service's to report (config.ts), with its variable's name.
  }
}

/** The Azure Blob endpoint (its own setting, else the account's). */
function azureEndpoint(env: (name: string) => string | undefined): string {
  return env("EDGETILE_AZURE_ENDPOINT") || `https://${env("AZURE_STORAGE_ACCOUNT")}.blob.core.windows.net`;
}

/** A setting's value, or its default from config.ts (one table of defaults for the service and its grants). */
function setting(env: (name: string) => string | undefined, name: "IMAGES_DIR" | "KV_PATH" | "HOSTNAME" | "PORT") {
  return env(envName(name)) || CONFIG_VARIABLES[name][0];
}

/** The variables naming the AWS shared files. */
function awsEnv(env: (name: string) => string | undefined): Record<string, string | undefined> {
  return { AWS_SHARED_CREDENTIALS_FILE: env("AWS_SHARED_CREDENTIALS_FILE"), AWS_CONFIG_FILE: env("AWS_CONFIG_FILE") };
}

/**
 * The whole `--allow-env` flag: the variables of `permissionList("env")`; but with an Azure Shared Key
 * (`AZURE_STORAGE_KEY`) the whole environment, because the Azure SDK that makes blob SAS from the key loads
 * npm `debug`, which lists every variable at load. A SAS token (`AZURE_STORAGE_SAS_TOKEN`) keeps the list.
 */
export function envFlag(env: (name: string) => string | undefined): string {
  return env("AZURE_STORAGE_KEY") ? "--allow-env" : `--allow-env=${permissionList("env", env)}`;
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
  const aws = env("EDGETILE_S3_BUCKETS") ? Object.values(awsFiles({ HOME: env("HOME"), ...awsEnv(env) })) : [];
  if (what === "read") return list([".", imagesDir, ...(kv ? [kv] : []), ...aws]);
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
  if (what === "env") {
    return list([
      ...Object.keys(CONFIG_VARIABLES).map(envName),
      "DENO_KV_ACCESS_TOKEN",
      ...AWS_VARIABLES,
      ...AZURE_VARIABLES,
    ]);
  }
  throw new Error(`usage: cli/permissions.ts read|write|net|address|env (got "${what}")`);
}

if (import.meta.main) {
  try {
    const env = (name: string) => Deno.env.get(name);
    console.log(Deno.args[0] === "env" ? envFlag(env) : permissionList(Deno.args[0] ?? "", env));
  } catch (err) {
    console.error(`edgetile: ${(err as Error).message}`);
    Deno.exit(2);
  }
}
