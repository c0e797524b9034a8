/**
 * Deflated Explicit VR Little Endian DICOM (transfer syntax 1.2.840.10008.1.2.1.99): everything after the
 * file meta group is one raw deflate stream, so nothing in it can be reached without inflating what comes
 * before. Such files are small (the syntax is for uncompressed pixels sent over slow links); this inflates
 * the data set once, bounded, and serves it from memory as an Explicit VR Little Endian file, so the
 * instance reader sees an ordinary file and every frame read is a copy.
 */
import type { ByteSource } from "./bytes.ts";
import { corruptSource, HttpError, tooLarge } from "../errors.ts";

/** The deflated transfer syntax's UID. */
export const DEFLATED_SYNTAX = "1.2.840.10008.1.2.1.99";
const EXPLICIT_LE = "1.2.840.10008.1.2.1";

/** The most a deflated file may inflate to (its data set held in memory while the slide is open). */
export const MAX_INFLATED_BYTES = 256 << 20;

/**
 * Where the file meta group ends and where its transfer syntax's value lies, when `head` (the file's
 * first bytes, `DICM` at 128) declares the deflated syntax; else null.
 */
export function deflatedMeta(head: Uint8Array): { metaEnd: number; syntaxAt: number } | null {
  // (0002,0000) UL group length, explicit VR: tag, "UL", 2-byte length 4, value.
  if (head.length < 144 || head[132] !== 2 || head[133] !== 0 || head[134] !== 0 || head[135] !== 0) return null;
  const metaEnd = 144 + new DataView(head.buffer, head.byteOffset + 140, 4).getUint32(0, true);
  if (metaEnd > head.length) return null;
  const text = new TextDecoder("latin1").decode(head.subarray(144, metaEnd));
  const at = text.indexOf(DEFLATED_SYNTAX);
  return at < 0 ? null : { metaEnd, syntaxAt: 144 + at };
}

/**
 * The file in `bytes` with its data set inflated and its meta group saying Explicit VR Little Endian (the
 * UID's last characters zeroed: the value keeps its length). 413 past `MAX_INFLATED_BYTES`, 422 for a
 * stream that does not inflate. `verify` and `close` are the file's own.
 */
export async function inflatedDicom(
  bytes: ByteSource,
  meta: { metaEnd: number; syntaxAt: number },
  maxBytes = MAX_INFLATED_BYTES,
): Promise<ByteSource> {
  if (bytes.size > maxBytes) throw tooLarge(`a deflated DICOM file over ${maxBytes >> 20} MiB`);
  const whole = await bytes.read(0, bytes.size);
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    const stream = new Blob([whole.slice(meta.metaEnd)]).stream().pipeThrough(
      new DecompressionStream("deflate-raw"),
    );
    for await (const chunk of stream) {
      total += chunk.length;
      if (total > maxBytes) throw tooLarge(`a deflated DICOM data set inflating past ${maxBytes >> 20} MiB`);
      parts.push(chunk);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw corruptSource(`a deflated DICOM data set does not inflate: ${(err as Error).message}`);
  }
  const out = new Uint8Array(meta.metaEnd + total);
  out.set(whole.subarray(0, meta.metaEnd));
  out.fill(0, meta.syntaxAt + EXPLICIT_LE.length, meta.syntaxAt + DEFLATED_SYNTAX.length);
  let at = meta.metaEnd;
  for (const p of parts) (out.set(p, at), at += p.length);
  return {
    size: out.length,
    read: (offset, length) => Promise.resolve(out.subarray(offset, Math.min(out.length, offset + length))),
    verify: () => bytes.verify(),
    close: () => bytes.close(),
  };
}
