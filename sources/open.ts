/** Opens any supported file as an `ImageSource`, choosing the reader by the file's magic bytes. */
import { corruptSource, unsupportedSource } from "../errors.ts";
import { openFlat } from "./flat.ts";
import type { ImageSource } from "./source.ts";
import { readFlatHeader, sniffFormat } from "../codecs/sniff.ts";
import { unsupportedMessage } from "./recognise.ts";
import { isDicomHead } from "./dicom.ts";
import { openDicomSeries } from "./dicom_series.ts";
import { dicomFilesIn } from "./dicom_folder.ts";
import { openTiff } from "./tiff.ts";
import { type ByteSource, localBytes, remoteBytes } from "./bytes.ts";
import type { RemoteHead, RemotePolicy } from "./remote.ts";
import { type DicomwebSeries, openDicomweb } from "./dicomweb.ts";
import { createRuntime, type Runtime } from "../cache/runtime.ts";

/** How a source is opened: the file, its version, and limits. Plain data, so it can cross to a worker. */
export interface SourceDescriptor {
  /** Absolute path of the file, or the URL of a remote one. */
  path: string;
  /** Version string (size, mtime, inode and ctime; or size and ETag): part of every cache key. */
  version: string;
  maxPixels: number;
  /**
   * True when `version` is the local file's `fileVersion` (files the registry located): opening checks it,
   * and so does every read (`ByteSource.verify`). Tests that open files by hand may name any version.
   */
  pinned?: boolean;
  /** For remote sources: the file's identity and the rules for reading it. */
  remote?: { head: RemoteHead; policy: RemotePolicy };
  /** For DICOMweb series: the server, the series and the rules for reading it (`version` is its version). */
  dicomweb?: DicomwebSeries;
}

/** The bytes of a descriptor's file. */
export function bytesOf(d: SourceDescriptor): Promise<ByteSource> {
  return d.remote
    ? Promise.resolve(remoteBytes(d.remote.head, d.remote.policy))
    : localBytes(d.path, d.pinned ? d.version : undefined);
}

/** The most bytes of segments read before a JPEG's frame header (EXIF, XMP, ICC profiles split in APP2s). */
const MAX_JPEG_HEAD = 16 << 20;

/**
 * Opens `d` with the opening thread's runtime (its codec, pixel caches, budget; a runtime of its own when
 * none is given: tests, tools); 415 for unknown formats, 413/422 from the format readers.
 */
export async function openSource(d: SourceDescriptor, runtime: Runtime = createRuntime()): Promise<ImageSource> {
  if (d.dicomweb) return await openDicomweb(d.dicomweb, d.version, `${d.path}@${d.version}`, runtime);
  if (!d.remote && (await Deno.stat(d.path)).isDirectory) return await openDicomFolder(d, runtime);
  const bytes = await bytesOf(d);
  let head: Uint8Array;
  try {
    head = await bytes.read(0, 65536);
  } catch (err) {
    await bytes.close();
    throw err;
  }
  const format = sniffFormat(head);
  const cacheKey = `${d.path}@${d.version}`;
  try {
    // A JPEG's frame header may come after more than 64 KiB of EXIF, XMP and ICC segments: read on.
    for (let n = 1 << 20; format === "jpeg" && !readFlatHeader("jpeg", head) && head.length < bytes.size; n *= 4) {
      if (n > MAX_JPEG_HEAD) throw corruptSource(`no JPEG frame header in the first ${MAX_JPEG_HEAD >> 20} MiB`);
      head = await bytes.read(0, Math.min(n, bytes.size));
    }
    if (format === "tiff") {
      return pinned(await openTiff(d, bytes, { maxPixels: d.maxPixels, cacheKey, runtime }), bytes);
    }
    // DICOM by its content (the WG-26 sample files have no extension): one multi-frame file is one slide.
    if (isDicomHead(head)) return pinned(await openDicomSeries([{ bytes, path: d.path }], cacheKey, runtime), bytes);
    if (format) {
      return pinned(await openFlat(bytes, format, head, { maxPixels: d.maxPixels, cacheKey, runtime }), bytes);
    }
  } catch (err) {
    await bytes.close();
    throw err;
  }
  await bytes.close();
  throw unsupportedSource(unsupportedMessage(head, d.path));
}

/**
 * `source` with every read checked against its version after it is done (`ByteSource.verify`, one `fstat`):
 * pixels read while the file was written in place are never handed out under the old version.
 */
function pinned(source: ImageSource, bytes: ByteSource): ImageSource {
  const after = async <T>(p: Promise<T>): Promise<T> => {
    const out = await p;
    bytes.verify();
    return out;
  };
  return {
    info: source.info,
    runtime: source.runtime,
    readRegion: (level, x, y, w, h, plane, select, hints) =>
      after(source.readRegion(level, x, y, w, h, plane, select, hints)),
    readAssociated: (name) => after(source.readAssociated(name)),
    ...(source.readStoredJpeg
      ? { readStoredJpeg: (level: number, tx: number, ty: number) => after(source.readStoredJpeg!(level, tx, ty)) }
      : {}),
    close: () => source.close(),
  };
}

/** Opens a folder of DICOM instances as one slide (415 when it holds none). */
async function openDicomFolder(d: SourceDescriptor, runtime: Runtime): Promise<ImageSource> {
  const paths = await dicomFilesIn(d.path);
  if (!paths.length) throw unsupportedSource("a folder that holds no DICOM instances");
  const files: { bytes: ByteSource; path: string }[] = [];
  try {
    for (const path of paths) files.push({ bytes: await localBytes(path), path });
    return await openDicomSeries(files, `${d.path}@${d.version}`, runtime);
  } catch (err) {
    await Promise.all(files.map((f) => f.bytes.close()));
    throw err;
  }
}
