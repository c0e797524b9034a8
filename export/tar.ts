/** POSIX ustar archives, written entry by entry (for streaming), and an export's archive. */
import { type ExportSummary, manifestLine, patchFiles, summaryText } from "./manifest.ts";
import type { PatchEntry } from "./patches.ts";

const enc = new TextEncoder();

function field(out: Uint8Array, at: number, len: number, value: string) {
  out.set(enc.encode(value).subarray(0, len), at);
}

function octal(n: number, len: number): string {
  return n.toString(8).padStart(len - 1, "0") + "\0";
}

/** The 512-byte ustar header of a regular file. Names up to 255 bytes (prefix + name). */
export function tarHeader(name: string, size: number, mtimeSeconds = Math.floor(Date.now() / 1000)): Uint8Array {
  const h = new Uint8Array(512);
  let prefix = "", base = name;
  if (enc.encode(name).length > 100) {
    const cut = name.lastIndexOf("/", 155);
    if (cut <= 0 || enc.encode(name.slice(cut + 1)).length > 100) throw new RangeError(`tar name too long: ${name}`);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  field(h, 0, 100, base);
  field(h, 100, 8, "0000644\0");
  field(h, 108, 8, "0000000\0");
  field(h, 116, 8, "0000000\0");
  field(h, 124, 12, octal(size, 12));
  field(h, 136, 12, octal(mtimeSeconds, 12));
  field(h, 148, 8, "        "); // checksum placeholder: spaces
  h[156] = 0x30; // '0': regular file
  field(h, 257, 6, "ustar\0");
  field(h, 263, 2, "00");
  field(h, 265, 32, "edgetile");
  field(h, 297, 32, "edgetile");
  field(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** Zero bytes that pad an entry of `size` bytes to a 512-byte boundary. */
export function tarPadding(size: number): Uint8Array {
  return new Uint8Array((512 - (size % 512)) % 512);
}

/** The end-of-archive marker: two zero blocks (a new array each time: nothing shared is handed to a stream). */
export function tarEnd(): Uint8Array {
  return new Uint8Array(1024);
}

/** A whole entry: header, body, padding. */
export function tarEntry(name: string, body: Uint8Array): Uint8Array[] {
  return [tarHeader(name, body.length), body, tarPadding(body.length)];
}

/**
 * An export as a tar, the one framing for HTTP and the command line's shards: each patch's files (its
 * pixels, and in the WebDataset layout `{key}.json`), then — in the files layout — `manifest.jsonl` and
 * `summary.json` (the manifest's lines kept to the end: compact strings), then the end marker.
 */
export class PatchArchive {
  #manifest: string[] = [];
  constructor(readonly layout: "files" | "webdataset") {}

  /** The parts of one patch's entries. */
  patch(entry: PatchEntry, bytes: Uint8Array): Uint8Array[] {
    if (this.layout === "files") this.#manifest.push(manifestLine(entry));
    return patchFiles(entry, bytes).flatMap(([name, body]) => tarEntry(name, body));
  }

  /** The archive's last parts: the manifest and the summary (files layout, which needs `summary`), the end marker. */
  end(summary?: () => ExportSummary): Uint8Array[] {
    if (this.layout !== "files") return [tarEnd()];
    if (!summary) throw new Error("an archive of files ends with its summary");
    const lines = enc.encode(this.#manifest.join(""));
    this.#manifest.length = 0;
    return [
      ...tarEntry("manifest.jsonl", lines),
      ...tarEntry("summary.json", enc.encode(summaryText(summary()))),
      tarEnd(),
    ];
  }
}
