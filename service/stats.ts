/**
 * Image statistics per image version: computed on the backend (a worker) once, shared by concurrent
 * requests (single-flight), kept in a bounded memory cache and in Deno KV under the image version (so a
 * restart resolves `t=otsu` without pixel work); a failure is not kept.
 */
import pngDecode from "@jsquash/png/decode.js";
import { PromiseCache } from "../cache/memo.ts";
import type { CacheSizes } from "../cache/sizes.ts";
import { sha256Hex } from "../cache/key.ts";
import type { TileCache } from "../cache/tile_cache.ts";
import type { SourceDescriptor } from "../sources/open.ts";
import type { TileBackend } from "../workers/backend.ts";
import type { StatsProvider } from "../kernels/op.ts";
import { getOp } from "../kernels/index.ts";
import type { ComputedStats, ImageStats, StatsPlane } from "../core/image_stats.ts";
import type { CodecTier } from "../codecs/tier.ts";

/** Stats and palettes of image versions. */
export class StatsService {
  #stats: PromiseCache<string, ComputedStats>;
  #palettes: PromiseCache<string, Uint8Array>;
  /** How many stats computations were started on the backend (for tests and metrics). */
  computations = 0;

  /** `codecs`: the codec tier the backend decodes with (part of the KV keys, like tiles'); `sizes`: the bounds. */
  constructor(
    private backend: TileBackend,
    private cache: TileCache | undefined,
    private codecs: CodecTier,
    sizes: Pick<CacheSizes, "statsBytes" | "palettes">,
  ) {
    this.#stats = new PromiseCache(sizes.statsBytes);
    this.#palettes = new PromiseCache(sizes.palettes);
  }

  /** The statistics of `source` (path + version) on a Z/T plane (default the first), computed once. */
  get(source: SourceDescriptor, plane: StatsPlane = { z: 0, t: 0 }): Promise<ComputedStats> {
    const first = plane.z === 0 && plane.t === 0;
    const id = `${source.path}@${source.version}|codecs:${this.codecs}${first ? "" : `|z${plane.z}t${plane.t}`}`;
    // Size: the tissue map and its PNG dominate; bounded by 2048² each.
    return this.#stats.get(id, () => this.#load(id, source, first ? undefined : plane), 2048 * 2048 * 2);
  }

  async #load(id: string, source: SourceDescriptor, plane?: StatsPlane): Promise<ComputedStats> {
    const key = ["stats", sha256Hex(id)];
    const stored = await this.cache?.readBlob(key);
    if (stored?.meta.stats) {
      const stats = JSON.parse(stored.meta.stats) as ImageStats;
      const img = await pngDecode(stored.bytes.slice().buffer as ArrayBuffer);
      const rgba = new Uint8Array(img.data.buffer);
      const tissueMap = new Uint8Array(img.width * img.height);
      for (let i = 0; i < tissueMap.length; i++) tissueMap[i] = rgba[i * 4];
      return { stats, tissueMap, tissuePng: stored.bytes };
    }
    this.computations++;
    const computed = await this.backend.run(source, { kind: "stats", ...(plane ? { plane } : {}) });
    this.cache?.writeLater(key, { bytes: computed.tissuePng, meta: { stats: JSON.stringify(computed.stats) } });
    return computed;
  }

  /** The `k`-colour palette of `source`'s stats level, rendered with `rescale` (resolved), computed once. */
  palette(source: SourceDescriptor, k: number, rescale?: string): Promise<Uint8Array> {
    const id = `${source.path}@${source.version}|codecs:${this.codecs}|${k}|${rescale ?? ""}`;
    return this.#palettes.get(id, async () => {
      const key = ["palette", sha256Hex(id)];
      const stored = await this.cache?.readBlob(key);
      if (stored) return stored.bytes;
      const palette = await this.backend.run(source, { kind: "palette", k, rescale });
      this.cache?.writeLater(key, { bytes: palette, meta: {} });
      return palette;
    });
  }

  /**
   * The palette `/stats?palette=K&rescale=…` reports: resolved as `op=quantize&palette=K&rescale=…` resolves
   * it (the same op's `resolve`), so the listed colours are the ones its tiles use.
   */
  async reportedPalette(
    source: SourceDescriptor,
    k: number,
    rescale?: string,
  ): Promise<{ k: number; rescale: string | null; colors: string[] }> {
    const params = await getOp("quantize").resolve!(
      rescale ? { palette: k, rescale } : { palette: k },
      this.provider(source),
    );
    const hex = String(params.colors);
    return {
      k,
      rescale: (params.rescale as string | undefined) ?? null,
      colors: Array.from({ length: hex.length / 6 }, (_, i) => `#${hex.slice(i * 6, i * 6 + 6)}`),
    };
  }

  /** What ops (and auto windows) resolve their global parameters against, for one image version and plane. */
  provider(source: SourceDescriptor, plane?: StatsPlane): StatsProvider {
    return {
      get: async () => (await this.get(source, plane)).stats,
      palette: (k, rescale) => this.palette(source, k, rescale),
    };
  }
}
