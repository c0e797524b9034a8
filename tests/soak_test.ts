/**
 * The hardening round's "done" check, on the real start command (`deno task start`'s permissions, its
 * connection guard, its own process): for 25 s, 6 parallel `size=1` exports of a slide, every crafted bomb
 * file, and 8 clients that ask for a long export and never read it (dropped at the guard's write deadline). The server stays alive, answers /health
 * within a second, keeps its RSS under 1.5 GiB, and answers every request with 200 or a 4xx within 10 s.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, startTask } from "./helpers.ts";
import { craftBombs } from "./craft_tiff.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const ROOT = new URL("../", import.meta.url).pathname;
const TCGA = "histolab__tcga-cr-7395-01a-01-ts1.svs";

Deno.test(
  "soak: exports, bombs and never-reading clients together; alive, /health < 1 s, RSS < 1.5 GiB",
  opts,
  async () => {
    // Inside the project: `deno task start` may read only `.`.
    await Deno.mkdir(`${ROOT}data`, { recursive: true });
    const dir = await Deno.makeTempDir({ dir: `${ROOT}data`, prefix: "soak-" });
    await Deno.copyFile(DATA + TCGA, `${dir}/${TCGA}`);
    await craftBombs(dir);
    const { url, port, child: server, output } = await startTask({
      HOSTNAME: "edgetile-7d9f8-x2x4q", // a pod's own HOSTNAME (Kubernetes sets it) must not matter
      EDGETILE_IMAGES_DIR: dir,
      EDGETILE_KV_PATH: "off",
      EDGETILE_WORKERS: "2",
    });
    const problems: string[] = [];
    let slowestHealth = 0, peakRss = 0, requests = 0;
    try {
      // Statistics first (the exports' tissue map), as a client would have.
      assertEquals(
        (await fetch(`${url}/images/${TCGA}/stats`).then(async (r) => (await r.body?.cancel(), r))).status,
        200,
      );
      const until = performance.now() + 25_000;
      const timed = async (path: string) => {
        const t0 = performance.now();
        try {
          const r = await fetch(url + path, { signal: AbortSignal.timeout(10_000) });
          await r.arrayBuffer();
          requests++;
          if (r.status !== 200 && (r.status < 400 || r.status >= 500)) problems.push(`${path}: ${r.status}`);
        } catch (err) {
          problems.push(`${path}: ${(err as Error).name} after ${(performance.now() - t0).toFixed(0)} ms`);
        }
      };
      const bombs = [
        "/dzi/one-tile.tif_files/14/0_0.jpeg",
        "/iiif/3/one-strip.tif/full/max/0/default.jpg",
        "/thumbnail/no-pyramid.tif.jpg?width=256",
        "/dzi/lying-jpeg.tif_files/9/0_0.jpeg",
        "/dzi/inflates.tif_files/8/0_0.jpeg",
        "/dzi/no-pyramid.tif_files/14/3_3.png",
      ];
      const exporters = Array.from({ length: 6 }, async () => {
        while (performance.now() < until) await timed(`/images/${TCGA}/patches.tar?size=1&min=0`);
      });
      const bombers = Array.from({ length: 2 }, async (_, k) => {
        for (let i = k; performance.now() < until; i++) await timed(bombs[i % bombs.length]);
      });
      // 8 clients that ask for a long export of big patches and never read a byte of it.
      const lazy = Array.from({ length: 8 }, async () => {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        await c.write(
          new TextEncoder().encode(`GET /images/${TCGA}/patches.tar?size=512&min=0 HTTP/1.1\r\nHost: x\r\n\r\n`),
        );
        await new Promise((r) => setTimeout(r, Math.max(0, until - performance.now())));
        try {
          c.close();
        } catch { /* closed by the server */ }
      });
      const health = (async () => {
        while (performance.now() < until) {
          const t0 = performance.now();
          try {
            const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
            const h = await r.json();
            peakRss = Math.max(peakRss, h.memory.rssBytes);
          } catch (err) {
            problems.push(`/health: ${(err as Error).name}`);
          }
          slowestHealth = Math.max(slowestHealth, performance.now() - t0);
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      await Promise.all([...exporters, ...bombers, ...lazy, health]);
      assertEquals(problems, [], "every request answered 200 or a 4xx within 10 s");
      assert(requests > 100, `${requests} requests answered`);
      assert(slowestHealth < 1000, `/health within a second (slowest ${slowestHealth.toFixed(0)} ms)`);
      assert(peakRss < 1.5 * 2 ** 30, `RSS under 1.5 GiB (peak ${(peakRss / 2 ** 20).toFixed(0)} MiB)`);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const dropped = Number(/edgetile_connections_closed_total\{reason="write"\} (\d+)/.exec(metrics)?.[1] ?? 0);
      assert(dropped >= 8, `the never-reading clients were dropped (${dropped})`);
      console.log(
        `soak: ${requests} requests, /health slowest ${slowestHealth.toFixed(0)} ms, ` +
          `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB, ${dropped} non-reading clients dropped`,
      );
    } finally {
      server.kill("SIGTERM");
      await output();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
