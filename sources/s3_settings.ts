/**
 * Where private S3 objects come from: the buckets that may be read (`EDGETILE_S3_BUCKETS`), the store's
 * endpoint and addressing, and the credentials from the standard places an AWS SDK reads them: the
 * `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` variables, else the shared credentials
 * file's `AWS_PROFILE` (or `default`) section; the region from `AWS_REGION`, `AWS_DEFAULT_REGION` or the
 * shared config file. The shared files are INI, read with npm `ini`. Also the other remote-source settings
 * (allowed origins, id prefixes).
 */
import { parse as parseIni } from "ini";

/** The AWS variables read (beside the EDGETILE_* ones): the start tasks grant exactly these. */
export const AWS_VARIABLES = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_PROFILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_CONFIG_FILE",
  "AWS_ENDPOINT_URL_S3",
  "AWS_ENDPOINT_URL",
  "HOME",
] as const;

/** Signing credentials (never in a URL, a log line, a key, a listing or an error). */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** How `s3://bucket/key` ids are read. Plain data (travels to workers inside the source descriptor). */
export interface S3Settings {
  /** The buckets that may be read; empty: S3 ids are refused. */
  buckets: string[];
  /** The store's endpoint (`https://s3.{region}.amazonaws.com` unless `AWS_ENDPOINT_URL_S3` says). */
  endpoint: string;
  region: string;
  /** Path-style addressing (`{endpoint}/{bucket}/{key}`), else virtual-hosted (`{bucket}.{host}/{key}`). */
  pathStyle: boolean;
  /** null: requests go unsigned (a public bucket). */
  credentials: S3Credentials | null;
}

/** The shared credentials and config files' paths (granted read access by the start tasks). */
export function awsFiles(env: Record<string, string | undefined>): { credentials: string; config: string } {
  const home = env.HOME ?? "";
  return {
    credentials: env.AWS_SHARED_CREDENTIALS_FILE || `${home}/.aws/credentials`,
    config: env.AWS_CONFIG_FILE || `${home}/.aws/config`,
  };
}

/** An INI file's sections, or {} when it is absent or unreadable (the files are optional). */
function readIni(path: string): Record<string, Record<string, string>> {
  try {
    return parseIni(Deno.readTextFileSync(path));
  } catch {
    return {};
  }
}

/**
 * The S3 settings from `EDGETILE_S3_BUCKETS`, `EDGETILE_S3_FORCE_PATH_STYLE` and the AWS variables in `env`
 * (by their own names). Throws, naming the variable, for a bad endpoint or a key without its secret.
 */
export function parseS3Settings(
  bucketList: string,
  forcePathStyle: string,
  env: Record<string, string | undefined>,
): S3Settings {
  const buckets = bucketList.split(",").map((b) => b.trim()).filter(Boolean);
  for (const b of buckets) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b)) {
      throw new Error(`EDGETILE_S3_BUCKETS: "${b}" is not a bucket name`);
    }
  }
  if (!["true", "false", ""].includes(forcePathStyle)) {
    throw new Error(`EDGETILE_S3_FORCE_PATH_STYLE must be true or false, got "${forcePathStyle}"`);
  }
  const files = buckets.length ? awsFiles(env) : null;
  const profile = env.AWS_PROFILE || "default";
  const shared = files ? readIni(files.credentials)[profile] ?? {} : {};
  const sharedConfig = files
    ? readIni(files.config)[profile === "default" ? "default" : `profile ${profile}`] ?? {}
    : {};
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || sharedConfig.region || "us-east-1";
  const rawEndpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || `https://s3.${region}.amazonaws.com`;
  let endpoint: URL;
  try {
    endpoint = new URL(rawEndpoint);
  } catch {
    throw new Error(`AWS_ENDPOINT_URL_S3: "${rawEndpoint}" is not a URL`);
  }
  if (!/^https?:$/.test(endpoint.protocol) || endpoint.username || endpoint.search) {
    throw new Error(`AWS_ENDPOINT_URL_S3 must be http(s)://host[:port][/path], got "${rawEndpoint}"`);
  }
  const id = env.AWS_ACCESS_KEY_ID || shared.aws_access_key_id || "";
  const secret = env.AWS_ACCESS_KEY_ID ? env.AWS_SECRET_ACCESS_KEY ?? "" : shared.aws_secret_access_key ?? "";
  if (id && !secret) throw new Error("AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY");
  const token = env.AWS_ACCESS_KEY_ID ? env.AWS_SESSION_TOKEN : shared.aws_session_token;
  return {
    buckets,
    endpoint: endpoint.href.replace(/\/$/, ""),
    region,
    pathStyle: forcePathStyle === "true",
    credentials: id ? { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) } : null,
  };
}

/** `EDGETILE_ALLOWED_ORIGINS`: origins (`https://host[:port]`) remote sources may come from. */
export function parseAllowedOrigins(raw: string): string[] {
  return raw.split(",").map((o) => o.trim()).filter(Boolean).map((o) => {
    let url: URL | null = null;
    try {
      url = new URL(o);
    } catch { /* reported below */ }
    if (!url || url.origin !== o.replace(/\/$/, "")) {
      throw new Error(`EDGETILE_ALLOWED_ORIGINS: "${o}" is not an origin (https://host[:port])`);
    }
    return url.origin;
  });
}

/** `EDGETILE_SOURCE_PREFIXES`: `prefix=base` maps of ids to `https://` bases or `s3://bucket/` ones. */
export function parseSourcePrefixes(raw: string): [string, string][] {
  return raw.split(",").map((p) => p.trim()).filter(Boolean).map((p) => {
    const at = p.indexOf("=");
    if (at <= 0 || !/^(https?|s3):\/\//.test(p.slice(at + 1))) {
      throw new Error(`EDGETILE_SOURCE_PREFIXES: "${p}" is not prefix=https://base or prefix=s3://bucket/`);
    }
    return [p.slice(0, at), p.slice(at + 1)];
  });
}
