/**
 * Open sources by file version, per thread: a file is parsed once per version; evicted ones are closed.
 * This is the reader boundary: what opening or reading a source throws that is not already an
 * `HttpError` becomes a corrupt source (422); every other unexpected error is the service's own (500).
 */
import { toHttpError } from "../errors.ts";
import { openSource, type SourceDescriptor } from "./open.ts";
import type { ImageSource } from "./source.ts";
import type { ImageInfo } from "../core/image_info.ts";
import { createRuntime, type Runtime } from "../cache/runtime.ts";

/** Most versions whose info a cache that keeps nothing open remembers. */
const MAX_INFOS = 4096;

/**
 * A bounded cache of open `ImageSource`s keyed by path and version, opened with one thread's runtime. A
 * thread that reads no pixels (the main thread beside a worker pool) keeps none open (`keepOpen` false):
 * it opens each version once, keeps its info, and closes it.
 */
export class SourceCache {
  #open = new Map<string, Promise<ImageSource>>();
  #infos = new Map<string, Promise<ImageInfo>>();
  /** Sources opened so far, and how many are open now (for tests). */
  opened = 0;
  get openNow(): number {
    return this.#open.size;
  }

  constructor(readonly runtime: Runtime = createRuntime(), readonly maxOpen = 64, readonly keepOpen = true) {}

  /** What the service knows of `d` without reading pixels: from the open source, or kept from one open. */
  infoOf(d: SourceDescriptor): Promise<ImageInfo> {
    if (this.keepOpen) return this.get(d).then((s) => s.info);
    const key = `${d.path}@${d.version}`;
    let p = this.#infos.get(key);
    if (p) return p;
    this.opened++;
    p = openSource(d, this.runtime).then(async (s) => {
      const { info } = s;
      await s.close();
      return info;
    }, (err) => {
      this.#infos.delete(key);
      throw toHttpError(err, "source");
    });
    this.#infos.set(key, p);
    if (this.#infos.size > MAX_INFOS) this.#infos.delete(this.#infos.keys().next().value!);
    return p;
  }

  /** The open source for `d`, opening it on first use. Failures are not cached. */
  get(d: SourceDescriptor): Promise<ImageSource> {
    const key = `${d.path}@${d.version}`;
    let p = this.#open.get(key);
    if (p) {
      this.#open.delete(key);
      this.#open.set(key, p);
      return p;
    }
    this.opened++;
    p = openSource(d, this.runtime).then(readerBoundary, (err) => {
      this.#open.delete(key);
      throw toHttpError(err, "source");
    });
    this.#open.set(key, p);
    while (this.#open.size > this.maxOpen) {
      const [oldKey, old] = this.#open.entries().next().value!;
      this.#open.delete(oldKey);
      old.then((s) => s.close()).catch(() => {});
    }
    return p;
  }

  /** Closes every open source. */
  async close(): Promise<void> {
    const all = [...this.#open.values()];
    this.#open.clear();
    await Promise.allSettled(all.map((p) => p.then((s) => s.close())));
  }
}

/** `source` with every read's unexpected error reported as a corrupt source (the reader raised it). */
export function readerBoundary(source: ImageSource): ImageSource {
  const guard = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err) => {
      throw toHttpError(err, "source");
    });
  const call = <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return guard(f());
    } catch (err) {
      return Promise.reject(toHttpError(err, "source"));
    }
  };
  return {
    info: source.info,
    runtime: source.runtime,
    readRegion: (level, x, y, w, h, plane, select, hints) =>
      call(() => source.readRegion(level, x, y, w, h, plane, select, hints)),
    readAssociated: (name) => call(() => source.readAssociated(name)),
    ...(source.readStoredJpeg
      ? { readStoredJpeg: (level: number, tx: number, ty: number) => call(() => source.readStoredJpeg!(level, tx, ty)) }
      : {}),
    close: () => source.close(),
  };
}
