/**
 * The metadata documents of an image's OME-Zarr store (OME-NGFF 0.4, Zarr v2): `.zgroup`, `.zattrs`
 * (`multiscales` with axes, units and per-level scales; `omero` channels with names, colours and windows),
 * each level's `.zarray`, the tissue label image under `labels/tissue/` (`image-label`), and the
 * consolidated `.zmetadata` that zarr-python's `open_consolidated` reads first.
 */
import * as zlib from "node:zlib";
import type { ImageInfo } from "../core/image_info.ts";
import type { ImageStats } from "../core/image_stats.ts";
import { arrayShape, ZARR_DTYPES, type ZarrLayout } from "../pyramid/zarr.ts";

/**
 * The chunks' compressor (numcodecs id and level): zstd where the runtime's `node:zlib` has it, else zlib
 * level 1. Measured on real chunks (bench/README.md, "OME-Zarr chunks"): zstd packs the SVS's 8-bit chunks
 * 4.55× in 0.36 ms, zlib-1 3.80× in 0.49 ms; on 16-bit noise zstd spends 2 ms, zlib-1 5 ms.
 */
export const ZARR_COMPRESSOR: { id: "zstd" | "zlib"; level: number } = hasZstd()
  ? { id: "zstd", level: 3 }
  : { id: "zlib", level: 1 };

function hasZstd(): boolean {
  return typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === "function";
}

/** The label image's name under `labels/`. */
export const TISSUE_LABEL = "tissue";

/** Every metadata document of the store, by key (`.zmetadata` included). */
export function storeDocuments(
  id: string,
  info: ImageInfo,
  layout: ZarrLayout,
  stats: Pick<ImageStats, "percentiles" | "channels">,
  withLabels: boolean,
): Map<string, unknown> {
  const docs = new Map<string, unknown>();
  docs.set(".zgroup", { zarr_format: 2 });
  docs.set(".zattrs", {
    multiscales: [multiscales(id, info, layout)],
    omero: omero(id, info, stats),
  });
  for (let k = 0; k < layout.levels.length; k++) docs.set(`${k}/.zarray`, zarray(info, layout, k, false));
  if (withLabels) {
    const base = `labels/${TISSUE_LABEL}`;
    docs.set("labels/.zgroup", { zarr_format: 2 });
    docs.set("labels/.zattrs", { labels: [TISSUE_LABEL] });
    docs.set(`${base}/.zgroup`, { zarr_format: 2 });
    docs.set(`${base}/.zattrs`, {
      multiscales: [multiscales(TISSUE_LABEL, info, layout)],
      "image-label": {
        version: "0.4",
        colors: [
          { "label-value": 0, rgba: [0, 0, 0, 0] },
          { "label-value": 1, rgba: [0, 200, 0, 128] },
        ],
        properties: [{ "label-value": 1, name: "tissue" }],
        source: { image: "../../" },
      },
    });
    for (let k = 0; k < layout.levels.length; k++) docs.set(`${base}/${k}/.zarray`, zarray(info, layout, k, true));
  }
  docs.set(".zmetadata", { zarr_consolidated_format: 1, metadata: Object.fromEntries(docs) });
  return docs;
}

/** NGFF `multiscales`: axes with units (µm where the file gives its MPP), a scale transform per level. */
function multiscales(name: string, info: ImageInfo, layout: ZarrLayout) {
  const unit = info.mpp ? { unit: "micrometer" } : {};
  return {
    version: "0.4",
    name,
    axes: layout.axes.map((a) => ({ ...a, ...(a.name === "x" || a.name === "y" ? unit : {}) })),
    datasets: layout.levels.map((L, k) => ({
      path: String(k),
      coordinateTransformations: [{
        type: "scale",
        scale: layout.axes.map((a) =>
          a.name === "x" ? (info.mpp?.x ?? 1) * L.scale : a.name === "y" ? (info.mpp?.y ?? 1) * L.scale : 1
        ),
      }],
    })),
    type: "area average",
    metadata: {
      description: "level k is the image at 1/2^k, read like tiles: the best stored level, area-averaged",
    },
  };
}

/** OMERO rendering metadata: channel labels and colours from the file, windows from the stats level. */
function omero(name: string, info: ImageInfo, stats: Pick<ImageStats, "percentiles" | "channels">) {
  const photo8 = !info.multichannel && info.pixelType === "uint8";
  return {
    name,
    version: "0.4",
    rdefs: { model: "color", defaultZ: 0, defaultT: 0 },
    channels: Array.from({ length: info.channels }, (_, c) => {
      const meta = info.channelMeta?.[c];
      const window = photo8 ? { min: 0, max: 255, start: 0, end: 255 } : {
        min: stats.channels.min[c],
        max: stats.channels.max[c],
        start: stats.percentiles.low[c],
        end: stats.percentiles.high[c],
      };
      return {
        label: meta?.name ?? `channel ${c}`,
        color: (meta?.color ?? "FFFFFF").toUpperCase(),
        window,
        active: true,
        coefficient: 1,
        family: "linear",
        inverted: false,
      };
    }),
  };
}

/** One level's `.zarray`: the source's sample type (the label: uint8 0/1), 256² chunks, "/" keys. */
function zarray(info: ImageInfo, layout: ZarrLayout, level: number, labels: boolean) {
  const { shape, chunks } = arrayShape(layout, level, labels);
  return {
    zarr_format: 2,
    shape,
    chunks,
    dtype: labels ? "|u1" : ZARR_DTYPES[info.pixelType],
    compressor: ZARR_COMPRESSOR,
    fill_value: 0,
    order: "C",
    filters: null,
    dimension_separator: "/",
  };
}
