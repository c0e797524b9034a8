/** Open sources by file version, per thread: a file is parsed once per version; evicted ones are closed. */
import { toHttpError } from "../errors.ts";
import { openSource, type SourceDescriptor } from "./open.ts";
import type { ImageSource } from "./source.ts";

/** A bounded cache of open `ImageSource`s keyed by path and version. */
export class SourceCache {
  #open = new Map<string, Promise<ImageSource>>();

  constructor(readonly maxOpen = 64) {}

  /** The open source for `d`, opening it on first use. Failures are not cached. */
  get(d: SourceDescriptor): Promise<ImageSource> {
    const key = `${d.path}@${d.version}`;
    let p = this.#open.get(key);
    if (p) {
      this.#open.delete(key);
      this.#open.set(key, p);
      return p;
    }
    p = openSource(d).catch((err) => {
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
