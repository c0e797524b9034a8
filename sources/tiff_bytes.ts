/** geotiff's two ways in to a `ByteSource`: a source over a local file's handle, a client over a remote file. */
import { BaseClient } from "geotiff";
import type { ByteSource } from "./bytes.ts";

/** The most zeros a range past the end of the file is padded with. */
const MAX_ZEROS = 64 * 1024;

/**
 * geotiff's source interface over a local `ByteSource`: the byte ranges geotiff asks for (tag arrays, each
 * stored block) are read synchronously on the source's one handle. geotiff's own file source reads through
 * `node:fs`'s asynchronous read: a round trip to a blocking thread for every block read (bench/README.md). Closing is the `ByteSource`'s owner's business.
 */
export function localSlices(bytes: ByteSource) {
  return {
    fileSize: bytes.size,
    // Each range as a buffer of its full length, zeros past the end of the file (as geotiff's file source),
    // but never more than 64 KiB of zeros: a length a corrupt file makes up is not allocated (geotiff then
    // reads past the buffer, and the file is a 422).
    fetch: (slices: { offset: number; length: number }[]) =>
      Promise.all(slices.map(async ({ offset, length }) => {
        const b = await bytes.read(offset, length);
        if (b.byteLength === length && b.byteOffset === 0 && b.buffer.byteLength === length) return b.buffer;
        const full = new Uint8Array(Math.min(length, b.byteLength + MAX_ZEROS));
        full.set(b);
        return full.buffer;
      })),
    close: () => Promise.resolve(),
  };
}

/** geotiff's client interface over a `ByteSource`: answers its single-range requests. */
export class ByteSourceClient extends BaseClient {
  constructor(private bytes: ByteSource) {
    super("edgetile:bytes");
  }

  override async request(options: { headers?: Record<string, string> } = {}) {
    const range = /bytes=(\d+)-(\d+)/.exec(options.headers?.Range ?? options.headers?.range ?? "");
    const from = range ? Number(range[1]) : 0;
    const to = range ? Number(range[2]) : this.bytes.size - 1;
    const data = await this.bytes.read(from, to - from + 1);
    const size = this.bytes.size;
    return {
      ok: true,
      status: 206,
      getHeader: (name: string) =>
        name.toLowerCase() === "content-range"
          ? `bytes ${from}-${from + data.length - 1}/${size}`
          : name.toLowerCase() === "content-type"
          ? "application/octet-stream"
          : null,
      // The read's own buffer when it is exactly the range (no copy), else a copy of the range.
      getData: () =>
        Promise.resolve(
          data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data.buffer : data.slice().buffer,
        ),
    } as never;
  }
}

/** True for compressions whose (WASM) decoders return native-order samples. */
export function isWasmDecoded(c: number) {
  return c === 7 || c === 50001 || c === 33003 || c === 33005;
}

/** Swaps each `n`-byte sample of `b` in place (file byte order to native). */
export function swapBytes(b: Uint8Array, n: number) {
  for (let i = 0; i + n <= b.length; i += n) {
    for (let a = i, z = i + n - 1; a < z; a++, z--) {
      const t = b[a];
      b[a] = b[z];
      b[z] = t;
    }
  }
}
