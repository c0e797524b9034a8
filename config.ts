/**
 * Configuration from `EDGETILE_<NAME>` environment variables (imgproxy's and titiler's convention: a
 * container's own `HOSTNAME` or `PORT` never leaks in), each overridable by a flag (`--port=9000`,
 * `--images-dir ./slides`, or `--PORT=9000`). Invalid values fail at start-up with a message.
 */

import { type DicomwebServer, parseDicomwebSettings } from "./sources/dicomweb_settings.ts";
import type { CodecChoice } from "./codecs/tier.ts";
import { LOG_LEVELS, type LogFormat, type LogLevel } from "./telemetry/log.ts";
import { type CacheSizes, DEFAULT_CACHE_SIZES } from "./cache/sizes.ts";
import { checkCacheUrl } from "./cache/redis_store.ts";
import { type AzureSettings, parseAzureSettings } from "./sources/azure.ts";
import { parseAllowedOrigins, parseS3Settings, parseSourcePrefixes, type S3Settings } from "./sources/s3_settings.ts";

/** Backends a user can ask for. */
export type BackendChoice = "auto" | "webgpu" | "workers" | "inline";

/** The service configuration. */
export interface Config {
  port: number;
  hostname: string;
  imagesDir: string;
  backend: BackendChoice;
  workers: number;
  tileSize: number;
  tileOverlap: number;
  maxPixels: number;
  /** Seconds a cached tile lives (KV expiry) and `Cache-Control: max-age` of unpinned tiles. */
  cacheTtl: number;
  /** Deno KV path: a file (its folder is created), `:memory:`, or a URL of a remote KV; "off" disables KV. */
  kvPath: string;
  /** A Redis/Valkey URL (`redis://`, `rediss://`): the tile cache a fleet shares, instead of KV; "" for none. */
  cacheUrl: string;
  /** The prefix of the cache's Redis keys. */
  cachePrefix: string;
  /** Bytes of the in-memory tile cache in front of KV. */
  memoryCacheBytes: number;
  /**
   * Bytes of decoded pixels kept for reuse (source tiles and strips, decoded flat images, derived levels),
   * one budget shared by every thread of the process; also the largest image level read whole.
   */
  pixelCacheBytes: number;
  /** Upper bounds of the memoising caches (each pixel cache is also held to `pixelCacheBytes`). */
  caches: CacheSizes;
  /** The service's public base URL (scheme, host, optional path prefix, no trailing slash); "" when unset. */
  publicUrl: string;
  /** `BACKEND=auto` on a software (fallback) WebGPU adapter: skip it (the workers), or measure it too. */
  gpuSoftware: "skip" | "measure";
  /** Jobs waiting or running per worker before new ones get 503 with Retry-After. */
  queuePerWorker: number;
  /** Origins remote sources may come from (`https://host[:port]`); empty: remote sources off. */
  allowedOrigins: string[];
  /** Id prefixes mapped to bases (`https://…` or `s3://bucket/…`), e.g. `slides/` → `s3://lab-slides/wsi/`. */
  sourcePrefixes: [string, string][];
  /** Private S3 objects: buckets, endpoint, region, addressing and credentials (from the AWS variables). */
  s3: S3Settings;
  /** Private Azure blobs: containers, endpoint, account and its Shared Key or SAS (from the AZURE variables). */
  azure: AzureSettings;
  /** Time limit of one request to a remote source. */
  remoteTimeoutMs: number;
  /** Largest remote response accepted, in bytes. */
  remoteMaxBytes: number;
  /** Seconds a remote file's size and version are trusted before asking again. */
  remoteRevalidateSeconds: number;
  /** DICOMweb servers whose slide-microscopy series are images (`dicomweb/{name}/{study}/{series}`). */
  dicomweb: DicomwebServer[];
  /** Keys that verify signed URLs (the first signs); empty: URLs need no signature. */
  signingKeys: string[];
  /** Bearer token for admin-only options (cache=false|refresh); empty: none. */
  adminToken: string;
  /** Per-request time limit (504 past it); a worker job may take half of it before it counts as hung. */
  timeoutMs: number;
  /**
   * Time a client has to send a request head, and to take each part of a response, before its connection is
   * closed (the local server's connection guard); 0: no guard.
   */
  clientTimeoutMs: number;
  /** Default JPEG/WebP quality. */
  quality: number;
  /** JPEG codec tier asked for: auto (native where it loads), native (or fail at start), wasm. */
  codecs: CodecChoice;
  /** Lines logged: this level and above (the access log is `info`). */
  logLevel: LogLevel;
  /** Log lines as text or JSON. */
  logFormat: LogFormat;
  /** Build absolute URLs from a proxy's Forwarded / X-Forwarded-* headers (when PUBLIC_URL is unset). */
  trustProxy: boolean;
  /** A string standing for `/` in image ids in URLs (Cantaloupe's slash substitute); "" for none. */
  slashSubstitute: string;
}

/** The variables read, with defaults and meaning (the README's config table). */
export const CONFIG_VARIABLES = {
  PORT: ["8000", "HTTP port"],
  HOSTNAME: ["0.0.0.0", "listen address"],
  IMAGES_DIR: ["./samples", "directory of images; ids are paths relative to it"],
  BACKEND: [
    "auto",
    "auto | webgpu | workers | inline (auto: measures WebGPU against the workers at start-up and keeps the faster; inline where there is no Worker)",
  ],
  WORKERS: ["cores", "number of pipeline workers"],
  TILE_SIZE: ["254", "Deep Zoom tile size"],
  TILE_OVERLAP: ["1", "Deep Zoom tile overlap"],
  MAX_PIXELS: ["100000000", "largest flat (PNG/JPEG/WebP/strip TIFF) image, in pixels"],
  CACHE_TTL: [
    "86400",
    "seconds a cached tile lives in KV; Cache-Control max-age of tiles whose URL does not pin the version",
  ],
  KV_PATH: [
    "./data/cache.kv",
    "Deno KV: a file, :memory:, a remote KV URL (with DENO_KV_ACCESS_TOKEN), default (`Deno.openKv()`: on Deno Deploy, the app's assigned database), or off",
  ],
  CACHE_URL: [
    "",
    "redis://[user:pass@]host:port/db (or rediss://): tiles, statistics and palettes in Redis or Valkey, shared by a fleet, instead of Deno KV",
  ],
  CACHE_PREFIX: ["edgetile:", "prefix of every key the cache writes in Redis"],
  MEMORY_CACHE_MB: ["32", "in-memory tile cache in front of KV, MiB"],
  PIXEL_CACHE_MB: [
    "96",
    "decoded pixels kept for reuse (source tiles, flat images, derived levels), MiB, one budget for all threads; also the most one read may decode (a tile or strip, an image read whole, the stored pixels behind a derived region: 413 past it)",
  ],
  PUBLIC_URL: [
    "",
    "the service's public base URL (https://tiles.example.org[/prefix]) for absolute URLs in bodies (IIIF id, TileJSON, /images); unset: the request's own origin, answered as private (never stored by shared caches)",
  ],
  TRUST_PROXY: [
    "false",
    "true | false: behind a reverse proxy that sets them, build absolute URLs from Forwarded or X-Forwarded-Proto/-Host/-Prefix (PUBLIC_URL, when set, wins); never enable where clients reach the service directly",
  ],
  SLASH_SUBSTITUTE: [
    "",
    "a string that stands for / in image ids in URLs (e.g. ~: /dzi/cases~slide1.svs.dzi is cases/slide1.svs), for proxies that decode %2F; links the service writes use it; empty: none",
  ],
  GPU_SOFTWARE: [
    "skip",
    "skip | measure: BACKEND=auto on a software WebGPU adapter (llvmpipe) keeps the workers without compiling shaders (skip) or times it like a GPU (measure)",
  ],
  ALLOWED_ORIGINS: ["", "comma-separated origins remote sources may come from (https://host[:port]); empty: none"],
  SOURCE_PREFIXES: [
    "",
    "comma-separated prefix=base maps for remote ids, e.g. slides/=s3://lab-slides/wsi/ or pub/=https://data.example.org/",
  ],
  S3_BUCKETS: [
    "",
    "comma-separated S3 buckets whose objects may be read (ids s3://bucket/key; signed with the AWS_* credentials); empty: none",
  ],
  AZURE_CONTAINERS: [
    "",
    "comma-separated Azure Blob containers whose blobs may be read (ids az://container/blob; AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN); empty: none",
  ],
  AZURE_ENDPOINT: ["", "the Blob service endpoint; unset: https://{AZURE_STORAGE_ACCOUNT}.blob.core.windows.net"],
  S3_FORCE_PATH_STYLE: [
    "false",
    "true: address S3 as {endpoint}/{bucket}/{key} (most S3-compatible stores), else {bucket}.{host}",
  ],
  DICOMWEB: [
    "",
    "comma-separated name=base maps of DICOMweb servers, e.g. pacs=https://pacs.example.org/dicom-web; ids dicomweb/{name}/{study}/{series}; each origin is allowed as a remote source",
  ],
  DICOMWEB_AUTH: [
    "",
    "comma-separated name=Authorization values for DICOMweb servers, e.g. pacs=Bearer TOKEN (never put credentials in a URL)",
  ],
  REMOTE_TIMEOUT_MS: ["10000", "time limit of one request to a remote source"],
  REMOTE_MAX_MB: ["256", "largest remote response accepted, MiB"],
  REMOTE_REVALIDATE_S: [
    "5",
    "seconds a remote file's version is trusted before asking again (a change shows up that soon)",
  ],
  SIGNING_KEY: [
    "",
    "comma-separated HMAC keys; when set, image URLs must be signed (deno task sign); the first key signs",
  ],
  ADMIN_TOKEN: ["", "bearer token allowing cache=false|refresh (a signature covering them also does)"],
  QUEUE: ["64", "jobs waiting or running per worker; past it, 503 with Retry-After"],
  TIMEOUT_MS: ["30000", "per-request time limit (504 past it); a worker job past half of it is treated as hung"],
  CLIENT_TIMEOUT_MS: [
    "10000",
    "a client's time to send a request head and to take each part of a response before its connection is closed (slowloris, clients that never read); idle keep-alive connections close after max(60 s, TIMEOUT_MS + 15 s); 0: off (behind a proxy that has its own)",
  ],
  QUALITY: ["80", "default JPEG/WebP quality"],
  LOG_LEVEL: [
    "info",
    "debug | info | warn | error | off: lines logged from this level up; info has one access-log line per request",
  ],
  LOG_FORMAT: ["text", "text | json: one line per event on stdout (warnings and errors on stderr)"],
  CODECS: [
    "auto",
    "auto | native | wasm: JPEG codecs (native: libjpeg-turbo through FFI, needs --allow-ffi for its folder; auto: native where it loads, else WASM)",
  ],
} as const;

type Name = keyof typeof CONFIG_VARIABLES;

/** `PUBLIC_URL` checked: an http(s) URL without query or fragment, trailing slash dropped. */
function publicUrl(raw: string): string {
  if (!raw) return "";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`EDGETILE_PUBLIC_URL: "${raw}" is not a URL`);
  }
  if (!/^https?:$/.test(url.protocol) || url.search || url.hash || url.username) {
    throw new Error(`EDGETILE_PUBLIC_URL: "${raw}" must be http(s)://host[:port][/prefix]`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** `SLASH_SUBSTITUTE` checked: URL-safe characters that survive proxies unchanged, no `/` or `%`. */
function slashSubstitute(raw: string): string {
  if (raw && !/^[A-Za-z0-9._~!$'()*+,;=:@-]+$/.test(raw)) {
    throw new Error(`EDGETILE_SLASH_SUBSTITUTE: "${raw}" must be URL-safe characters (like ~ or __), without / or %`);
  }
  return raw;
}

/** The prefix of every environment variable the service reads. */
export const ENV_PREFIX = "EDGETILE_";

/** The environment variable of a setting: `EDGETILE_PORT` for `PORT`. */
export const envName = (name: string) => ENV_PREFIX + name;

/**
 * Reads the configuration from `env` (by setting name, without the prefix: main.ts reads them from the
 * `EDGETILE_*` variables), overridden by flags in `args` (`--port=9000`, `--images-dir ./x`, `--PORT=9000`).
 */
export function loadConfig(env: Record<string, string | undefined>, args: string[] = []): Config {
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const m = /^--([A-Za-z][A-Za-z_-]*)(?:=(.*))?$/.exec(args[i]);
    if (!m) continue;
    const name = m[1].toUpperCase().replaceAll("-", "_");
    if (!(name in CONFIG_VARIABLES)) throw new Error(`unknown flag --${m[1]}`);
    if (m[2] !== undefined) flags[name] = m[2];
    else if (i + 1 < args.length) flags[name] = args[++i];
  }
  const get = (name: Name) => flags[name] ?? env[name] ?? CONFIG_VARIABLES[name][0];
  const int = (name: Name, min: number, max: number, dflt?: number): number => {
    const raw = get(name);
    const v = raw === "cores" && dflt !== undefined ? dflt : Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new Error(`${envName(name)} must be an integer in ${min}..${max}, got "${raw}"`);
    }
    return v;
  };
  const oneOf = <T extends string>(name: Name, choices: readonly T[]): T => {
    const v = get(name);
    if (!choices.includes(v as T)) throw new Error(`${envName(name)} must be ${choices.join(" or ")}, got "${v}"`);
    return v as T;
  };
  const backend = get("BACKEND");
  if (!["auto", "webgpu", "workers", "inline"].includes(backend)) {
    throw new Error(`EDGETILE_BACKEND must be auto, webgpu, workers or inline, got "${backend}"`);
  }
  const codecs = get("CODECS");
  if (!["auto", "native", "wasm"].includes(codecs)) {
    throw new Error(`EDGETILE_CODECS must be auto, native or wasm, got "${codecs}"`);
  }
  return {
    codecs: codecs as CodecChoice,
    port: int("PORT", 0, 65535),
    hostname: get("HOSTNAME"),
    imagesDir: get("IMAGES_DIR"),
    backend: backend as BackendChoice,
    workers: int("WORKERS", 1, 256, navigator.hardwareConcurrency || 2),
    tileSize: int("TILE_SIZE", 1, 8192),
    tileOverlap: int("TILE_OVERLAP", 0, 64),
    maxPixels: int("MAX_PIXELS", 1, 2 ** 40),
    cacheTtl: int("CACHE_TTL", 1, 31536000),
    kvPath: get("KV_PATH"),
    cacheUrl: checkCacheUrl(get("CACHE_URL")),
    cachePrefix: get("CACHE_PREFIX"),
    memoryCacheBytes: int("MEMORY_CACHE_MB", 0, 1 << 20) * 1024 * 1024,
    pixelCacheBytes: int("PIXEL_CACHE_MB", 16, 1 << 20) * 1024 * 1024,
    caches: { ...DEFAULT_CACHE_SIZES },
    gpuSoftware: oneOf("GPU_SOFTWARE", ["skip", "measure"] as const),
    publicUrl: publicUrl(get("PUBLIC_URL")),
    timeoutMs: int("TIMEOUT_MS", 100, 3_600_000),
    clientTimeoutMs: int("CLIENT_TIMEOUT_MS", 0, 3_600_000),
    queuePerWorker: int("QUEUE", 1, 100_000),
    allowedOrigins: parseAllowedOrigins(get("ALLOWED_ORIGINS")),
    sourcePrefixes: parseSourcePrefixes(get("SOURCE_PREFIXES")),
    s3: parseS3Settings(get("S3_BUCKETS"), get("S3_FORCE_PATH_STYLE"), env),
    azure: parseAzureSettings(get("AZURE_CONTAINERS"), get("AZURE_ENDPOINT"), env),
    remoteTimeoutMs: int("REMOTE_TIMEOUT_MS", 100, 600_000),
    remoteMaxBytes: int("REMOTE_MAX_MB", 1, 1 << 20) * 1024 * 1024,
    remoteRevalidateSeconds: int("REMOTE_REVALIDATE_S", 0, 86400),
    dicomweb: parseDicomwebSettings(get("DICOMWEB"), get("DICOMWEB_AUTH")),
    signingKeys: get("SIGNING_KEY").split(",").map((k) => k.trim()).filter(Boolean),
    adminToken: get("ADMIN_TOKEN"),
    quality: int("QUALITY", 1, 100),
    logLevel: oneOf("LOG_LEVEL", LOG_LEVELS),
    logFormat: oneOf("LOG_FORMAT", ["text", "json"] as const),
    trustProxy: oneOf("TRUST_PROXY", ["true", "false"] as const) === "true",
    slashSubstitute: slashSubstitute(get("SLASH_SUBSTITUTE")),
  };
}
