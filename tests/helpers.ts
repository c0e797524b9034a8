/** Test helpers: the path of the real test images, independent decoders, image metrics, a live server. */
import pngDecode from "@jsquash/png/decode.js";
import { fromFile } from "geotiff";
import { loadConfig } from "../config.ts";
import { createService, type Service } from "../app.ts";

/** The real test images, in the repository (tests/data, provenance and licences in its README). */
export const DATA = new URL("./data/", import.meta.url).pathname;
/** The bundled samples. */
export const SAMPLES = new URL("../samples/", import.meta.url).pathname;

/** Interleaved 8-bit pixels with their shape. */
export interface Pixels {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** Decodes a PNG with @jsquash/png (an independent decoder) to `channels` (1 = first channel). */
export async function decodePng(bytes: Uint8Array, channels = 3): Promise<Pixels> {
  const img = await pngDecode(bytes.slice().buffer as ArrayBuffer);
  return fromRgba(new Uint8Array(img.data.buffer), img.width, img.height, channels);
}

/** RGBA → the first `channels` channels. */
export function fromRgba(rgba: Uint8Array, width: number, height: number, channels: number): Pixels {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < width * height; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = rgba[i * 4 + c];
  return { width, height, channels, data };
}

/**
 * Reads a TIFF IFD region with geotiff's own pure-JS decoders (pdf.js-derived JPEG, its own LZW/Deflate),
 * which share no code with the WASM decoders the service uses. RGB output.
 */
export async function geotiffReference(
  file: string,
  ifd: number,
  window: [number, number, number, number],
): Promise<Pixels> {
  const tiff = await fromFile(file);
  try {
    const image = await tiff.getImage(ifd);
    const spp = image.getSamplesPerPixel();
    const data = spp >= 3
      ? await image.readRGB({ window, interleave: true }) as unknown as Uint8Array
      : await image.readRasters({ window, interleave: true }) as unknown as Uint8Array;
    return {
      width: window[2] - window[0],
      height: window[3] - window[1],
      channels: spp >= 3 ? 3 : 1,
      data: Uint8Array.from(data),
    };
  } finally {
    await tiff.close?.();
  }
}

/** Peak signal-to-noise ratio in dB of two equally shaped 8-bit images (Infinity when identical). */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    se += d * d;
  }
  if (se === 0) return Infinity;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

/** Width and height from a JPEG's SOF marker. */
export function jpegSize(b: Uint8Array): [number, number] {
  let i = 2;
  while (i + 9 < b.length) {
    const m = b[i + 1];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      return [(b[i + 7] << 8) | b[i + 8], (b[i + 5] << 8) | b[i + 6]];
    }
    i += 2 + ((b[i + 2] << 8) | b[i + 3]);
  }
  throw new Error("no SOF marker");
}

/** Width, height, bit depth and colour type from a PNG's IHDR. */
export function pngHeader(b: Uint8Array): { width: number; height: number; bitDepth: number; colorType: number } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { width: dv.getUint32(16), height: dv.getUint32(20), bitDepth: b[24], colorType: b[25] };
}

/** A live server on a free loopback port, running the real app. */
export interface TestServer {
  url: string;
  service: Service;
  close(): Promise<void>;
}

/** Starts the app with `env` (IMAGES_DIR etc.; KV in memory, LOG_LEVEL warn unless given) on 127.0.0.1:0. */
export function startServer(env: Record<string, string>): TestServer {
  // Quiet unless asked: the access log of thousands of test requests would bury the test output.
  const service = createService(loadConfig({ KV_PATH: ":memory:", LOG_LEVEL: "warn", ...env }));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, service.fetch);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    service,
    close: async () => {
      await server.shutdown();
      await service.close();
    },
  };
}

/** Fetches a URL and returns status, headers and body bytes. */
export async function get(url: string): Promise<{ status: number; headers: Headers; body: Uint8Array }> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) };
}

/** Runs `fn` against a live server (worker backend, 2 workers, the bundled samples unless `env` says). */
export async function withServer(env: Record<string, string>, fn: (s: TestServer) => Promise<void>): Promise<void> {
  const s = startServer({ BACKEND: "workers", WORKERS: "2", IMAGES_DIR: SAMPLES, ...env });
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

/** `deno task start` in its own process (the real command line), on a free loopback port. */
export interface StartedTask {
  url: string;
  port: number;
  child: Deno.ChildProcess;
  /** Waits for the exit: its code and everything it wrote. */
  output(): Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * Runs `deno task <task>` (start or serve) with `env` (EDGETILE_PORT and EDGETILE_HOSTNAME set here) and waits until /health
 * answers. Its stdout and stderr are read as they come (an unread pipe would block the server's access log,
 * and with it the server); `output()` waits for the exit and gives them.
 */
export async function startTask(env: Record<string, string>, task = "start"): Promise<StartedTask> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", task],
    cwd: new URL("../", import.meta.url).pathname,
    env: { ...env, EDGETILE_PORT: String(port), EDGETILE_HOSTNAME: "127.0.0.1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const text = (s: ReadableStream<Uint8Array>) => new Response(s).text();
  const [stdout, stderr] = [text(child.stdout), text(child.stderr)];
  const output = async () => ({ code: (await child.status).code, stdout: await stdout, stderr: await stderr });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`${url}/health`).then(async (r) => (await r.body?.cancel(), r.ok)).catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, child, output };
}

/** The first index where two byte arrays differ, with both values, or null (a short failure message). */
export function firstDifference(a: Uint8Array, b: Uint8Array): string | null {
  if (a.length !== b.length) return `lengths ${a.length} ≠ ${b.length}`;
  const i = a.findIndex((v, k) => v !== b[k]);
  return i < 0 ? null : `at ${i}: ${a[i]} ≠ ${b[i]}`;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}
