/**
 * The image registry: resolves an image id (a path relative to the images directory) to a file, its
 * version and its metadata. Ids with `..`, absolute paths, NUL or backslashes are refused; symlinks
 * that lead out of the images directory are not followed.
 */
import { badRequest, notFound, unsupportedSource } from "../errors.ts";
import { READABLE } from "./recognise.ts";
import type { SourceDescriptor } from "./open.ts";
import type { ImageInfo } from "../core/image_info.ts";
import { SourceCache } from "./source_cache.ts";
import { HttpError, toHttpError } from "../errors.ts";
import { headRemote, parseRemoteId, type RemoteHead, type RemotePolicy } from "./remote.ts";
import type { AzureSettings } from "./azure.ts";
import { isStoreId, storeTarget } from "./stores.ts";
import type { S3Settings } from "./s3_settings.ts";
import { LruCache } from "../core/lru.ts";
import { fileVersion, unsettledFor } from "./file_version.ts";
import { folderVersion, isDicomFolder } from "./dicom_folder.ts";
import { imageFilesUnder, isMrxsData } from "./listing.ts";
import type { DicomwebServer } from "./dicomweb_settings.ts";
import { dicomwebVersion, listDicomwebSeries, parseDicomwebId, serverPolicy } from "./dicomweb.ts";

/** How remote ids are resolved and read. */
export interface RemoteOptions {
  policy: RemotePolicy;
  /** Id prefixes mapped to base URLs. */
  prefixes: [string, string][];
  /** Seconds a remote file's size and version are trusted before asking again. */
  revalidateSeconds: number;
  /** DICOMweb servers (ids `dicomweb/{name}/{study}/{series}`); their series follow `policy`'s limits. */
  dicomweb?: DicomwebServer[];
  /** Private S3 objects (ids `s3://bucket/key`, or a prefix mapped to one). */
  s3?: S3Settings;
  /** Private Azure blobs (ids `az://container/blob`, or a prefix mapped to one). */
  azure?: AzureSettings;
}

/** An image id resolved to a file version and its metadata. */
export interface ResolvedImage {
  id: string;
  source: SourceDescriptor;
  info: ImageInfo;
}

/** One row of the image listing. */
export interface ListedImage {
  id: string;
  info?: ImageInfo;
  error?: { status: number; code: string; message: string };
}

/** Resolves ids to images under one directory. */
export class ImageRegistry {
  #root: string;

  #heads = new LruCache<string, { head: Promise<RemoteHead>; at: number }>(1024);

  /** `imagesDir` must exist; it is resolved to its real path once. */
  constructor(
    imagesDir: string,
    private maxPixels: number,
    private sources = new SourceCache(),
    private remote: RemoteOptions = {
      policy: { allowedOrigins: [], timeoutMs: 10_000, maxBytes: 256 << 20 },
      prefixes: [],
      revalidateSeconds: 5,
    },
  ) {
    this.#root = Deno.realPathSync(imagesDir);
  }

  /** The URL a remote id names (`http(s)://…`, or a configured prefix), or null for local ids. */
  remoteUrl(id: string): string | null {
    for (const [prefix, base] of this.remote.prefixes) if (id.startsWith(prefix)) return base + id.slice(prefix.length);
    return /^https?:\/\//i.test(id) || isStoreId(id) ? id : null;
  }

  async #locateRemote(url: string, policy = this.remote.policy): Promise<SourceDescriptor> {
    if (policy.allowedOrigins.length === 0) {
      throw new HttpError(403, "forbidden_origin", "remote sources are off (EDGETILE_ALLOWED_ORIGINS is empty)");
    }
    // Size and version, asked again after `revalidateSeconds` (so a changed file shows up that soon).
    let entry = this.#heads.get(url);
    if (!entry || entry.at + this.remote.revalidateSeconds * 1000 < Date.now()) {
      entry = { head: headRemote(url, policy), at: Date.now() };
      this.#heads.set(url, entry);
      entry.head.catch(() => this.#heads.delete(url));
    }
    const head = await entry.head;
    return { path: url, version: head.version, maxPixels: this.maxPixels, remote: { head, policy } };
  }

  #seriesVersions = new LruCache<string, { version: Promise<string>; at: number }>(1024);

  /** A DICOMweb series: its server and version (asked again after `revalidateSeconds`, like a remote file). */
  async #locateDicomweb(id: string): Promise<SourceDescriptor> {
    const { name, study, series } = parseDicomwebId(id)!;
    const server = this.#dicomwebServer(name);
    const s = { server, study, series, policy: serverPolicy(server, this.remote.policy) };
    let entry = this.#seriesVersions.get(id);
    if (!entry || entry.at + this.remote.revalidateSeconds * 1000 < Date.now()) {
      entry = { version: dicomwebVersion(s), at: Date.now() };
      this.#seriesVersions.set(id, entry);
      entry.version.catch(() => this.#seriesVersions.delete(id));
    }
    return { path: id, version: await entry.version, maxPixels: this.maxPixels, dicomweb: s };
  }

  #dicomwebServer(name: string): DicomwebServer {
    const server = this.remote.dicomweb?.find((s) => s.name === name);
    if (!server) {
      const names = (this.remote.dicomweb ?? []).map((s) => s.name).join(", ") || "none";
      throw notFound(`no DICOMweb server "${name}" (configured: ${names})`);
    }
    return server;
  }

  /** The slide-microscopy series of the DICOMweb server `name` (QIDO-RS, paged). */
  listDicomweb(name: string): Promise<{ id: string; description?: string; instances?: number }[]> {
    const server = this.#dicomwebServer(name);
    return listDicomwebSeries(server, serverPolicy(server, this.remote.policy));
  }

  /** The real path of the images directory. */
  get root(): string {
    return this.#root;
  }

  /**
   * The file for `id`: 400 for malformed ids, 404 when absent or outside the images directory. Every
   * request checks the file's real path and version (never a stale tile), synchronously: the async calls
   * cost ~85 µs and, under load, a quarter of the router thread (a CPU profile). When no part of the id is a
   * symlink (`lstat` of each part: one call for a file directly in the directory), `root/id` is the real
   * path and its `lstat` the version; else `realpath` (a call per part of the whole path) and `stat` decide.
   */
  async locate(id: string): Promise<SourceDescriptor> {
    if (this.remote.dicomweb?.length && id.startsWith("dicomweb/")) return await this.#locateDicomweb(id);
    const url = this.remoteUrl(id);
    if (url && isStoreId(url)) {
      const target = storeTarget(url, this.remote.policy, this.remote);
      return await this.#locateRemote(target.url, target.policy);
    }
    if (url) {
      parseRemoteId(url); // 400 bad_id for a malformed one
      return await this.#locateRemote(url);
    }
    checkId(id);
    // A version read within the second of the file's last change could hide a later change in that same
    // second (ctime has whole seconds here): wait for the second to pass, then read it again.
    for (let attempt = 0;; attempt++) {
      const found = this.#stat(id);
      // A DICOM series folder: the version of all its files (pinned by that, not by one open file).
      if (found.st.isDirectory && !(await isDicomFolder(found.real))) throw notFound(`no image "${id}"`);
      // A folder changing under the walk (removed, made unreadable) is not found, never a 500.
      const folder = found.st.isDirectory
        ? await folderVersion(found.real).catch(() => {
          throw notFound(`no image "${id}"`);
        })
        : null;
      const wait = folder ? folder.wait : unsettledFor(found.st, Date.now());
      if (wait === 0 && folder) return { path: found.real, version: folder.version, maxPixels: this.maxPixels };
      if (wait === 0) {
        return { path: found.real, version: fileVersion(found.st), maxPixels: this.maxPixels, pinned: true };
      }
      if (attempt === SETTLE_ATTEMPTS) {
        throw new HttpError(503, "changing", `image "${id}" is being written; retry shortly`);
      }
      this.settleWaits++;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * The version a plain local file `id` has now, checked as `locate` checks it (real path, `lstat`, settled
   * second), synchronously; null wherever `locate` would wait, refuse, or look further (folders, remote ids).
   */
  versionNow(id: string): string | null {
    try {
      const { st } = this.#stat(id);
      return st.isFile && unsettledFor(st, Date.now()) === 0 ? fileVersion(st) : null;
    } catch {
      return null;
    }
  }

  /** Requests that waited for a file's last change to settle (`unsettledFor`). */
  settleWaits = 0;

  /** The real path and `stat` of a local id (see `locate`). */
  #stat(id: string): { real: string; st: Deno.FileInfo } {
    const none = () => notFound(`no image "${id}"`);
    let real = `${this.#root === "/" ? "" : this.#root}/${id}`;
    let st = plainPathInfo(this.#root, id);
    if (st === "symlink") {
      try {
        real = Deno.realPathSync(real);
        if (!real.startsWith(this.#root === "/" ? "/" : this.#root + "/")) throw none();
        st = Deno.statSync(real);
      } catch {
        throw none();
      }
    }
    if (!st?.isFile && !st?.isDirectory) throw none();
    return { real, st };
  }

  /** The image for `id` with its metadata (parsed once per file version). */
  async resolve(id: string): Promise<ResolvedImage> {
    const source = await this.locate(id);
    return { id, source, info: await this.sources.infoOf(source) };
  }

  /**
   * Every file under the directory (sorted by id): its metadata, or why it is not read (415 with what it is,
   * 422 for a damaged image). What is not read is remembered by version, so a listing opens it once.
   */
  async list(): Promise<ListedImage[]> {
    const ids = await imageFilesUnder(this.#root, true);
    const out: ListedImage[] = [];
    for (const id of ids) {
      try {
        if (await isMrxsData(`${this.#root}/${id}`)) {
          throw unsupportedSource(
            `unsupported file format: a 3DHISTECH MRXS slide's data folder (this service reads ${READABLE})`,
          );
        }
        const source = await this.locate(id);
        const key = `${source.path}@${source.version}`;
        const failed = this.#unreadable.get(key);
        if (failed) throw failed;
        try {
          out.push({ id, info: await this.sources.infoOf(source) });
        } catch (err) {
          const e = toHttpError(err, "source");
          if (e.status === 415 || e.status === 422 || e.status === 413) this.#unreadable.set(key, e);
          throw e;
        }
      } catch (err) {
        const e = toHttpError(err, "source");
        if (e.status === 404) continue; // e.g. a symlink out of the directory
        out.push({ id, error: e.toJSON().error });
      }
    }
    return out;
  }

  /** Files the listing found unreadable, by path and version. */
  #unreadable = new LruCache<string, HttpError>(4096);

  /** Closes open files. */
  close(): Promise<void> {
    return this.sources.close();
  }
}

/**
 * `lstat` of `root/id` when none of the id's parts (checked by `checkId`: no `.`, `..` or empty ones) is a
 * symlink, so that `root/id` is its own real path; "symlink" when one is; null when a part is missing or a
 * file stands where a directory should.
 */
function plainPathInfo(root: string, id: string): Deno.FileInfo | "symlink" | null {
  let path = root === "/" ? "" : root;
  const parts = id.split("/");
  for (let i = 0; i < parts.length; i++) {
    path += "/" + parts[i];
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(path);
    } catch {
      return null;
    }
    if (st.isSymlink) return "symlink";
    if (i === parts.length - 1) return st;
    if (!st.isDirectory) return null;
  }
  return null;
}

/** Rejects ids that could name anything outside the images directory. */
function checkId(id: string) {
  if (!id || id.length > 1024) throw badRequest("image id must be 1..1024 characters");
  if (id.includes("\0") || id.includes("\\")) throw badRequest("image id contains a forbidden character");
  if (id.startsWith("/")) throw notFound(`no image "${id}"`);
  if (id.split("/").some((seg) => seg === ".." || seg === "." || seg === "")) throw notFound(`no image "${id}"`);
}

/** Times `locate` waits for a file's change to settle before it answers 503 (a file written without pause). */
const SETTLE_ATTEMPTS = 3;
