/**
 * WADO-RS frame retrieval: the stored bitstreams of several frames of one instance in one request
 * (`…/instances/{uid}/frames/1,2,5`, `Accept: multipart/related; type="application/octet-stream";
 * transfer-syntax=*` — the server's own bytes, never transcoded), the multipart answer parsed as a stream
 * (`@mjackson/multipart-parser`) with the request's time limit and a bound on its size; each part's coding
 * from its `transfer-syntax` (else its media type). Frames asked for in one turn of the event loop (the
 * tiles of one region) go out as one request.
 */
import {
  getMultipartBoundary,
  MaxFileSizeExceededError,
  MultipartParseError,
  parseMultipartStream,
} from "@mjackson/multipart-parser";
import { type FrameCoding, type StoredFrame, TRANSFER_SYNTAXES } from "./dicom.ts";
import { guardedFetch, type RemotePolicy } from "./remote.ts";
import { HttpError } from "../errors.ts";

/** Most frames asked for in one request (a tile spans a few; a region of an export, more). */
export const MAX_FRAMES_PER_REQUEST = 64;

/** The Accept header of frame requests: the stored transfer syntax, whatever it is. */
export const FRAMES_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';

const badGateway = (message: string) => new HttpError(502, "bad_gateway", message);

/** The coding of a part from its Content-Type (`image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50`). */
export function partCoding(contentType: string): FrameCoding {
  const syntax = /transfer-syntax\s*=\s*"?([0-9.]+)"?/i.exec(contentType)?.[1];
  if (syntax) {
    const coding = TRANSFER_SYNTAXES[syntax];
    if (!coding) throw new HttpError(415, "unsupported_source", `DICOM transfer syntax ${syntax} is not supported`);
    return coding;
  }
  const type = contentType.split(";")[0].trim().toLowerCase();
  if (type === "image/jpeg") return "jpeg";
  if (type === "image/jp2" || type === "image/jpx") return "jpeg2000";
  if (type === "image/jls") return "jpegls";
  if (type === "application/octet-stream" || type === "") return "native";
  throw new HttpError(415, "unsupported_source", `DICOMweb frames of type ${type} are not supported`);
}

/**
 * Frames `numbers` (1-based) of the instance at `url` (…/instances/{uid}), in that order. The answer must
 * hold exactly one part a frame; its whole body at most `policy.maxBytes`, and no part more than `frameMax`.
 */
export async function fetchFrames(
  url: string,
  numbers: number[],
  policy: RemotePolicy,
  headers: Record<string, string>,
  frameMax: number,
): Promise<StoredFrame[]> {
  const res = await guardedFetch(`${url}/frames/${numbers.join(",")}`, {
    headers: { ...headers, Accept: FRAMES_ACCEPT },
  }, policy);
  if (!res.ok) {
    await res.body?.cancel();
    throw upstreamStatus(res.status, url);
  }
  const type = res.headers.get("content-type") ?? "";
  const boundary = getMultipartBoundary(type);
  if (!boundary) {
    // A single frame may come as the bare bitstream.
    if (numbers.length !== 1 || !res.body) throw badGateway(`${url} answered frames as ${type || "no type"}`);
    const data = await new Response(limited(res.body, Math.min(policy.maxBytes, frameMax), url)).bytes()
      .catch((err) => {
        throw sendError(err, url);
      });
    return [{ data, coding: partCoding(type) }];
  }
  const out: StoredFrame[] = [];
  try {
    const parts = parseMultipartStream(limited(res.body!, policy.maxBytes, url), {
      boundary,
      maxHeaderSize: 16 << 10,
      maxFileSize: frameMax,
    });
    for await (const part of parts) {
      if (out.length >= numbers.length) throw badGateway(`${url} sent more parts than the ${numbers.length} frames`);
      out.push({ data: part.bytes, coding: partCoding(part.headers.get("content-type") ?? "") });
    }
  } catch (err) {
    await res.body?.cancel().catch(() => {});
    if (err instanceof MaxFileSizeExceededError) {
      throw new HttpError(413, "too_large", `${url} sent a frame of more than ${frameMax} bytes`);
    }
    if (err instanceof MultipartParseError) {
      throw badGateway(`${url} sent a malformed multipart answer: ${err.message}`);
    }
    throw sendError(err, url);
  }
  if (out.length !== numbers.length) throw badGateway(`${url} sent ${out.length} parts for ${numbers.length} frames`);
  return out;
}

/** The HTTP error for a DICOMweb server's status. */
export function upstreamStatus(status: number, url: string): HttpError {
  if (status === 404 || status === 410) return new HttpError(404, "not_found", `no DICOMweb resource at ${url}`);
  if (status === 401 || status === 403) {
    return badGateway(`the DICOMweb server refused ${url} (${status}): check its credentials in the settings`);
  }
  return badGateway(`${url} answered ${status}`);
}

/** An error while a body was read: the time limit (504), a broken connection (502), or ours as it is. */
function sendError(err: unknown, url: string): HttpError {
  if (err instanceof HttpError) return err;
  if ((err as Error)?.name === "TimeoutError") {
    return new HttpError(504, "upstream_timeout", `${new URL(url).origin} stopped sending its answer (time limit)`);
  }
  return badGateway(`${new URL(url).origin} broke off its answer: ${(err as Error)?.message ?? err}`);
}

/** `body` cut off with a 413 past `max` bytes, and the server's errors while sending made 502/504. */
function limited(body: ReadableStream<Uint8Array>, max: number, url: string): ReadableStream<Uint8Array> {
  let total = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        total += chunk.length;
        if (total > max) {
          controller.error(new HttpError(413, "too_large", `${url} sent more than ${max} bytes`));
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

/**
 * Frame reads of one instance, batched: frames asked for before the next macrotask go out in requests of at
 * most `MAX_FRAMES_PER_REQUEST`; each caller gets its frame (or the request's error).
 */
export function batchedFrames(
  fetchSome: (numbers: number[]) => Promise<StoredFrame[]>,
): (i: number) => Promise<StoredFrame> {
  let pending = new Map<number, PromiseWithResolvers<StoredFrame>[]>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batch = pending;
    pending = new Map();
    const numbers = [...batch.keys()].sort((a, b) => a - b);
    for (let k = 0; k < numbers.length; k += MAX_FRAMES_PER_REQUEST) {
      const some = numbers.slice(k, k + MAX_FRAMES_PER_REQUEST);
      fetchSome(some.map((i) => i + 1)).then(
        (frames) => some.forEach((i, j) => batch.get(i)!.forEach((w) => w.resolve(frames[j]))),
        (err) => some.forEach((i) => batch.get(i)!.forEach((w) => w.reject(err))),
      );
    }
  };
  return (i) => {
    const wait = Promise.withResolvers<StoredFrame>();
    pending.set(i, [...(pending.get(i) ?? []), wait]);
    if (!scheduled) {
      scheduled = true;
      setTimeout(flush, 0);
    }
    return wait.promise;
  };
}
