/**
 * The hardening rounds' "done" check, on the real start command (`deno task start`'s permissions, its
 * connection guard, its own process): for 25 s, 6 parallel `size=1` exports of a slide, every crafted bomb
 * and killer file (tile offsets without a tile size, a million tiny tiles), requests with malformed Host
 * headers, 8 clients that ask for a long export and never read it (dropped at the guard's write deadline),
 * and a slide rewritten in place every 1.5 s (same size, mtime put back) while it is exported and tiled.
 * The server stays alive and answers /health, keeps its RSS under 1.5 GiB, answers every request with 200
 * or a 4xx, and never serves a tile or a complete export that mixes two versions of the slide. Deadlines
 * here only catch hangs.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, decodePng, startTask } from "./helpers.ts";
import { craftBombs, craftTiff, deflatedZeros, rewriteInPlace, solidTiff } from "./craft_tiff.ts";

/** The killer files of hardening round 3 (their tiles 413/422 at once). */
async function craftKillers(dir: string) {
  const base = { samplesPerPixel: 3, bitsPerSample: 8, compression: 8, photometric: 2 };
  const z = await deflatedZeros(512 * 512 * 3), tiny = await deflatedZeros(48);
  await Deno.writeFile(
    `${dir}/no-tile-size.tif`,
    craftTiff([{ ...base, width: 512, height: 512, tile: [512, 512], blocks: [z], omit: [322, 323] }]),
  );
  await Deno.writeFile(
    `${dir}/million.tif`,
    craftTiff([{ ...base, width: 4096, height: 4096, tile: [16, 1], blocks: Array(1 << 20).fill(tiny) }]),
  );
}

const opts = { sanitizeResources: false, sanitizeOps: false };
const ROOT = new URL("../", import.meta.url).pathname;
const TCGA = "histolab__tcga-cr-7395-01a-01-ts1.svs";

Deno.test(
  "soak: exports, bombs, killer files, bad Hosts, rewrites and never-reading clients; alive, RSS < 1.5 GiB, no mixing",
  opts,
  async () => {
    // Inside the project: `deno task start` may read only `.`.
    await Deno.mkdir(`${ROOT}data`, { recursive: true });
    const dir = await Deno.makeTempDir({ dir: `${ROOT}data`, prefix: "soak-" });
    await Deno.copyFile(DATA + TCGA, `${dir}/${TCGA}`);
    await craftBombs(dir);
    await craftKillers(dir);
    await Deno.writeFile(`${dir}/flip.tif`, solidTiff(2048, [255, 0, 0]));
    const { url, port, child: server, output } = await startTask({
      HOSTNAME: "edgetile-7d9f8-x2x4q", // a pod's own HOSTNAME (Kubernetes sets it) must not matter
      EDGETILE_IMAGES_DIR: dir,
      EDGETILE_KV_PATH: "off",
      EDGETILE_WORKERS: "2",
    });
    const problems: string[] = [];
    let healthAnswered = 0, peakRss = 0, requests = 0;
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
        "/dzi/no-tile-size.tif_files/9/0_0.jpeg",
        "/dzi/million.tif_files/8/0_0.jpeg",
        "/iiif/3/million.tif/0,0,256,256/max/0/default.png",
      ];
      const exporters = Array.from({ length: 6 }, async () => {
        while (performance.now() < until) await timed(`/images/${TCGA}/patches.tar?size=1&min=0`);
      });
      const bombers = Array.from({ length: 2 }, async (_, k) => {
        for (let i = k; performance.now() < until; i++) await timed(bombs[i % bombs.length]);
      });
      // 8 clients that ask for a long export of big patches and never read a byte of it (closed at the end).
      const lazyConns: Deno.Conn[] = [];
      const lazy = Array.from({ length: 8 }, async () => {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        await c.write(
          new TextEncoder().encode(`GET /images/${TCGA}/patches.tar?size=512&min=0 HTTP/1.1\r\nHost: x\r\n\r\n`),
        );
        lazyConns.push(c);
      });
      const health = (async () => {
        while (performance.now() < until) {
          try {
            // 30 s only catches a hang; an unanswered or failed poll is a problem (counted below).
            const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(30_000) });
            const h = await r.json();
            peakRss = Math.max(peakRss, h.memory.rssBytes);
            healthAnswered++;
          } catch (err) {
            problems.push(`/health: ${(err as Error).name}`);
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      // Malformed Host headers: 400 bad_host everywhere, /health answered whatever the Host.
      const badHosts = (async () => {
        const hosts = ["a b", "[", "x:99999", "<b>x</b>", "a/b"];
        for (let i = 0; performance.now() < until; i++) {
          const path = i % 2 ? "/health" : "/images";
          const c = await Deno.connect({ hostname: "127.0.0.1", port });
          const head = `GET ${path} HTTP/1.1\r\nHost: ${hosts[i % hosts.length]}\r\nConnection: close\r\n\r\n`;
          await c.write(new TextEncoder().encode(head));
          const answer = await new Response(c.readable).text();
          const status = Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1]);
          if (status !== (path === "/health" ? 200 : 400)) problems.push(`${JSON.stringify(head)}: ${status}`);
          requests++;
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      // The slide rewritten in place (same size, mtime put back) every 1.5 s, red and blue in turn, while it is
      // exported and tiled: every tile is one colour, and every export that completes is of one version.
      let flips = 0, completeExports = 0, brokenExports = 0;
      const flipper = (async () => {
        while (performance.now() < until) {
          await new Promise((r) => setTimeout(r, 1500));
          const st = await Deno.stat(`${dir}/flip.tif`);
          const [next, other]: [number, number, number][] = ++flips % 2
            ? [[0, 0, 255], [255, 0, 0]]
            : [[255, 0, 0], [0, 0, 255]];
          // Every third time a same-second pair: the other colour, then this one 50 ms later, mtime put back.
          if (flips % 3 === 0) {
            await rewriteInPlace(`${dir}/flip.tif`, solidTiff(2048, other), st.mtime!);
            await new Promise((r) => setTimeout(r, 50));
          }
          await rewriteInPlace(`${dir}/flip.tif`, solidTiff(2048, next), st.mtime!);
        }
      })();
      const flipExports = (async () => {
        while (performance.now() < until) {
          let body: Uint8Array;
          try {
            const r = await fetch(`${url}/images/flip.tif/patches.tar?size=128&min=0&format=npy`);
            if (r.status !== 200) {
              const code = await r.json().then((b) => b.error?.code, () => "");
              // Shed with Retry-After, by design: "changing" (written again before its last change settled) or
              // "overloaded" (each rewrite is a new version whose statistics are large work, on a busy machine).
              const shed = r.status === 503 && r.headers.has("retry-after") &&
                ["changing", "overloaded"].includes(code);
              if (r.status >= 500 && !shed) problems.push(`flip export: ${r.status} ${code}`);
              continue;
            }
            body = new Uint8Array(await r.arrayBuffer());
          } catch {
            brokenExports++; // a failed transfer: the file changed under it
            continue;
          }
          completeExports++;
          // Every patch of a one-colour slide is the same array: a complete export holds one kind only.
          const patches = new Set<string>();
          for (let at = 0; at + 512 <= body.length;) {
            const size = parseInt(new TextDecoder().decode(body.subarray(at + 124, at + 135)), 8);
            const name = new TextDecoder().decode(body.subarray(at, at + 100)).replace(/\0.*$/s, "");
            if (!name) break;
            if (name.endsWith(".npy")) patches.add(body.subarray(at + 512 + size - 8, at + 512 + size).join());
            at += 512 + Math.ceil(size / 512) * 512;
          }
          if (patches.size !== 1) problems.push(`a complete export of flip.tif mixed ${patches.size} kinds of patch`);
        }
      })();
      const flipTiles = (async () => {
        for (let i = 0; performance.now() < until; i++) {
          const r = await fetch(`${url}/iiif/3/flip.tif/${(i % 8) * 256},0,256,256/max/0/default.png`);
          const body = new Uint8Array(await r.arrayBuffer());
          requests++;
          if (r.status !== 200) {
            const code = JSON.parse(new TextDecoder().decode(body)).error?.code;
            if (r.status >= 500 && !(r.status === 503 && code === "changing")) problems.push(`flip tile: ${r.status}`);
            continue;
          }
          const { data } = await decodePng(body, 3);
          const kinds = new Set<string>();
          for (let p = 0; p < data.length; p += 3) kinds.add(`${data[p]},${data[p + 1]},${data[p + 2]}`);
          if (kinds.size !== 1) problems.push(`a tile of flip.tif mixed ${[...kinds].join(" and ")}`);
        }
      })();
      await Promise.all([...exporters, ...bombers, ...lazy, health, badHosts, flipper, flipExports, flipTiles]);
      assert(flips >= 5 && completeExports + brokenExports > 0, `${flips} rewrites, ${completeExports} exports`);
      // Never stale: once the last write's second is over, the slide is served as it was last written.
      await new Promise((r) => setTimeout(r, 1200));
      const last = flips % 2 ? "0,0,255" : "255,0,0";
      const tile = await fetch(`${url}/iiif/3/flip.tif/0,0,256,256/max/0/default.png`);
      const { data: px } = await decodePng(new Uint8Array(await tile.arrayBuffer()), 3);
      assertEquals(`${px[0]},${px[1]},${px[2]}`, last, "the slide as last written");
      assertEquals(problems, [], "every request answered 200 or a 4xx within 10 s");
      assert(requests > 100, `${requests} requests answered`);
      // The server stayed responsive: every /health poll answered (counted; their deadline only catches a hang).
      assert(
        healthAnswered > 0,
        `/health answered all the while (${healthAnswered} polls, none failed: problems above)`,
      );
      assert(peakRss < 1.5 * 2 ** 30, `RSS under 1.5 GiB (peak ${(peakRss / 2 ** 20).toFixed(0)} MiB)`);
      // The never-reading clients are dropped at the guard's write deadline, however busy the machine (60 s
      // only catches a hang).
      let dropped = 0;
      for (let i = 0; i < 600 && dropped < 8; i++) {
        const metrics = await (await fetch(`${url}/metrics`)).text();
        dropped = Number(/edgetile_connections_closed_total\{reason="write"\} (\d+)/.exec(metrics)?.[1] ?? 0);
        if (dropped < 8) await new Promise((r) => setTimeout(r, 100));
      }
      for (const c of lazyConns) {
        try {
          c.close();
        } catch { /* closed by the server */ }
      }
      assert(dropped >= 8, `the never-reading clients were dropped (${dropped})`);
      console.log(
        `soak: ${requests} requests, /health answered ${healthAnswered} times, ` +
          `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB, ${dropped} non-reading clients dropped, ` +
          `${flips} rewrites: ${completeExports} exports complete, ${brokenExports} broken off`,
      );
    } finally {
      server.kill("SIGTERM");
      await output();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
