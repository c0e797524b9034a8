// The thumbnail peer for bench/peers.ts: sharp (libvips, shrink-on-load) in Node, its cache off.
// GET /thumb/<file>?width=W → a JPEG (quality 80) W pixels wide, aspect kept. Run:
// PHOTO_DIR=… PORT=… node bench/peers/sharp_server.mjs (sharp from SHARP_PATH, installed by the setup step)
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";

const sharp = createRequire(import.meta.url)(process.env.SHARP_PATH);
sharp.cache(false);
const dir = process.env.PHOTO_DIR;

createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  const m = /^\/thumb\/([\w.-]+)$/.exec(url.pathname);
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  try {
    const width = Number(url.searchParams.get("width") ?? 512);
    const body = await sharp(join(dir, m[1])).resize({ width }).jpeg({ quality: 80 }).toBuffer();
    res.writeHead(200, { "Content-Type": "image/jpeg", "Content-Length": body.length }).end(body);
  } catch (err) {
    res.writeHead(500).end(String(err));
  }
}).listen(Number(process.env.PORT), "127.0.0.1");
