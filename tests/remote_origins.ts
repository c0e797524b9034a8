/** Test origins for remote sources: a versioned origin that can swap its file, and two known images. */
import { solidTiff } from "./craft_tiff.ts";
/** Serves `files` by name with byte ranges; `pick` chooses the version each request gets (a naive server). */
export function startVersionedOrigin(
  pick: (req: Request, n: number) => { bytes: Uint8Array; lastModified?: string; etag?: string; extra?: number },
) {
  let n = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const v = pick(req, req.method === "HEAD" ? -1 : n++);
    const headers: Record<string, string> = { "Accept-Ranges": "bytes" };
    if (v.lastModified) headers["Last-Modified"] = v.lastModified;
    if (v.etag) headers["ETag"] = v.etag;
    const m = /bytes=(\d+)-(\d+)/.exec(req.headers.get("range") ?? "");
    let body = v.bytes, status = 200;
    if (m) {
      const from = Number(m[1]), to = Math.min(Number(m[2]), v.bytes.length - 1);
      // `extra`: a body that many bytes longer (or shorter) than its Content-Range says, as a broken origin.
      body = v.bytes.subarray(from, Math.max(from + 1, to + 1 + (v.extra ?? 0)));
      status = 206;
      headers["Content-Range"] = `bytes ${from}-${to}/${v.bytes.length}`;
    }
    headers["Content-Length"] = String(body.length);
    return new Response(req.method === "HEAD" ? null : body as Uint8Array<ArrayBuffer>, { status, headers });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

/** Two same-size 512² TIFFs of 256² uncompressed tiles: all white, and all black. */
export function whiteAndBlack(): [Uint8Array, Uint8Array] {
  return [solidTiff(512, [255, 255, 255]), solidTiff(512, [0, 0, 0])];
}

/** A test origin: its URL, its folder, the requests it answered, how to stop it. */
export interface Origin {
  url: string;
  dir: string;
  log: { method: string; path: string; range: string | null; bytes: number }[];
  close(): Promise<void>;
}
