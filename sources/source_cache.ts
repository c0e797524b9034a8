/**
 * Open sources by file version, per thread: a file is parsed once per version; evicted ones are closed.
 * This is the reader boundary: what opening or reading a source throws that is not already an
 * `HttpError` becomes a corrupt source (422); every other unexpected error is the service's own (500).
 */
import { toHttpError } from "../errors.ts";
import { openSource, type SourceDescriptor } from "./open.ts";
import type { ImageSource } from "./source.ts";
import { createRuntime, type Runtime } from "../cache/runtime.ts";

/** A bounded cache of open `ImageSource`s keyed by path and version, opened with one thread's runtime. */
export class SourceCache {
  #open = new Map<string, Promise<ImageSource>>();

  constructor(readonly runtime: Runtime = createRuntime(), readonly maxOpen = 64) {}

  /** The open source for `d`, opening it on first use. Failures are not cached. */
  get(d: SourceDescriptor): Promise<ImageSource> {
    const key = `${d.path}@${d.version}`;
    let p = this.#open.get(key);
    if (p) {
      this.#open.delete(key);
      this.#open.set(key, p);
      return p;
    }
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
