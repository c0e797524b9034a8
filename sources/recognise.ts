/**
 * What a file the service does not read is, from its first bytes and name, for the 415 that refuses it and
 * the listing that shows it (`supported: false`): a lab drops MRXS, CZI, iSyntax, DICOM, PDFs and notes
 * beside its slides, and each should say what it is rather than vanish.
 */

/** The formats this service reads, as a 415 names them. */
export const READABLE =
  "TIFF, BigTIFF, Aperio SVS, OME-TIFF, Hamamatsu NDPI, Philips TIFF, Leica SCN, Ventana BIF, DICOM WSI, PNG, JPEG and WebP";

/** A name for what `head` (the file's first bytes) and `path` hold, or null when nothing is recognised. */
export function recognise(head: Uint8Array, path: string): string | null {
  const text = (at: number, n: number) => String.fromCharCode(...head.subarray(at, at + n));
  const ext = /\.([^./]+)$/.exec(path)?.[1]?.toLowerCase() ?? "";
  if (ext === "mrxs") return "a 3DHISTECH MRXS slide";
  if (ext === "vsi") return "an Olympus VSI slide";
  if (head.length >= 132 && text(128, 4) === "DICM") return "a DICOM file";
  if (text(0, 10) === "ZISRAWFILE") return "a Zeiss CZI image";
  if (text(0, 11) === "<DataObject") return "a Philips iSyntax slide";
  if (text(0, 5) === "%PDF-") return "a PDF document";
  if (text(0, 4) === "PK\u0003\u0004") return "a ZIP archive";
  if (text(0, 6) === "GIF87a" || text(0, 6) === "GIF89a") return "a GIF image";
  if (text(0, 2) === "BM" && head.length >= 26) return "a BMP image";
  if (text(4, 8) === "jP  \r\n\u0087\n" || text(0, 4) === "\u00ffO\u00ffQ") return "a JPEG 2000 image";
  if (head.length > 0 && looksLikeText(head)) return "a text file";
  return null;
}

/** True when the first KiB is text (UTF-8, no control bytes but tab, CR, LF). */
function looksLikeText(head: Uint8Array): boolean {
  const part = head.subarray(0, 1024);
  for (const b of part) if (b < 9 || (b > 13 && b < 32) || b === 127) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(part.subarray(0, part.length - 3));
    return true;
  } catch {
    return false;
  }
}

/** The 415 message for an unreadable file: what it is, where recognised, and what the service reads. */
export function unsupportedMessage(head: Uint8Array, path: string): string {
  const what = recognise(head, path);
  return `unsupported file format${what ? `: ${what}` : ""} (this service reads ${READABLE})`;
}
