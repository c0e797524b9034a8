/**
 * Image statistics per image version: computed on the backend (a worker) once, shared by concurrent
 * requests (single-flight), kept in a bounded memory cache; a failure is not kept.
 */
import { LruCache } from "../cache/lru.ts";
import type { SourceDescriptor } from "../sources/open.ts";
import type { TileBackend } from "../workers/backend.ts";
import type { StatsProvider } from "../kernels/op.ts";
import type { ComputedStats } from "./types.ts";

/** Stats and palettes of image versions. */
export class StatsService {
  #stats = new LruCache<string, Promise<ComputedStats>>(128 * 1024 * 1024);
  #palettes = new LruCache<string, Promise<Uint8Array>>(1024);
  /** How many stats computations were started (for tests and metrics). */
  computations = 0;

  constructor(private backend: TileBackend) {}

  /** The statistics of `source` (path + version), computed once. */
  get(source: SourceDescriptor): Promise<ComputedStats> {
    const key = `${source.path}@${source.version}`;
    let p = this.#stats.get(key);
    if (!p) {
      this.computations++;
      p = this.backend.run(source, { kind: "stats" });
      // Size: the tissue map and its PNG dominate; bounded by 2048² each.
      this.#stats.set(key, p, 2048 * 2048 * 2);
      p.catch(() => this.#stats.delete(key));
    }
    return p;
  }

  /** The `k`-colour palette of `source`'s stats level, rendered with `rescale` (resolved), computed once. */
  palette(source: SourceDescriptor, k: number, rescale?: string): Promise<Uint8Array> {
    const key = `${source.path}@${source.version}|${k}|${rescale ?? ""}`;
    let p = this.#palettes.get(key);
    if (!p) {
      p = this.backend.run(source, { kind: "palette", k, rescale });
      this.#palettes.set(key, p);
      p.catch(() => this.#palettes.delete(key));
    }
    return p;
  }

  /** What ops resolve their global parameters against, for one image version. */
  provider(source: SourceDescriptor): StatsProvider {
    return {
      get: async () => (await this.get(source)).stats,
      palette: (k, rescale) => this.palette(source, k, rescale),
    };
  }
}
