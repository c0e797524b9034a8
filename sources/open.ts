/** Opens any supported file as an `ImageSource`, choosing the reader by the file's magic bytes. */
import { unsupportedSource } from "../errors.ts";
import { openFlat } from "./flat.ts";
import type { ImageSource } from "./source.ts";
import { sniffFormat } from "./sniff.ts";
import { openTiff } from "./tiff.ts";

/** How a source is opened: the file, its version, and limits. Plain data, so it can cross to a worker. */
export interface SourceDescriptor {
  /** Absolute path of the file. */
  path: string;
  /** Version string (size and mtime): part of every cache key. */
  version: string;
  maxPixels: number;
}

/** Opens `d.path`; 415 for unknown formats, 413/422 from the format readers. */
export async function openSource(d: SourceDescriptor): Promise<ImageSource> {
  const file = await Deno.open(d.path, { read: true });
  const head = new Uint8Array(65536);
  let n = 0;
  try {
    while (n < head.length) {
      const r = await file.read(head.subarray(n));
      if (r === null) break;
      n += r;
    }
  } finally {
    file.close();
  }
  const bytes = head.subarray(0, n);
  const format = sniffFormat(bytes);
  const cacheKey = `${d.path}@${d.version}`;
  if (format === "tiff") return await openTiff(d.path, { maxPixels: d.maxPixels, cacheKey });
  if (format) return await openFlat(d.path, format, bytes, { maxPixels: d.maxPixels, cacheKey });
  throw unsupportedSource("unsupported file format (not TIFF, PNG, JPEG or WebP)");
}
