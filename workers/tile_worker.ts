/**
 * Worker entry: runs the tile pipeline on jobs posted by `WorkerPool` and transfers the encoded bytes
 * back. `onmessage` is set before any top-level await, so no early message is lost.
 */
/// <reference lib="deno.worker" />
import type { WorkerJob, WorkerReply } from "./protocol.ts";
import { renderTile } from "../pipeline/render.ts";
import { SourceCache } from "../sources/source_cache.ts";
import { HttpError, toErrorShape, toHttpError } from "../errors.ts";

const sources = new SourceCache();

self.onmessage = async (e: MessageEvent<WorkerJob>) => {
  const { id, source, request } = e.data;
  try {
    const s = await sources.get(source);
    const tile = await renderTile(s, request);
    const reply: WorkerReply = {
      id,
      ok: true,
      bytes: tile.bytes,
      contentType: tile.contentType,
      resolved: tile.resolved,
      timings: tile.timings,
    };
    const buf = tile.bytes.buffer as ArrayBuffer;
    self.postMessage(reply, buf.byteLength === tile.bytes.byteLength ? [buf] : []);
  } catch (err) {
    if (!(err instanceof HttpError)) console.error("tile worker: unexpected error:", err);
    const reply: WorkerReply = { id, ok: false, error: toErrorShape(toHttpError(err, "source")) };
    self.postMessage(reply);
  }
};
