/**
 * The HTTP floor (issue 41): what a request that does no pixel work costs in edgetile against bare
 * `Deno.serve` answering the same bytes, side by side in one run. edgetile runs `server.ts` with its default
 * settings (access log, metrics, the connection guard); the bare server is `Deno.serve` with a handler that
 * returns the body (and content type) edgetile answered. Two cases: `/health`, and one cached IIIF gray tile
 * (a memory-cache hit after the first request). wrk with 1 and 2 threads, 16 connections, rounds alternate
 * the order. Beside them, the bare server behind edgetile's connection guard: the guard's own share. Target:
 * edgetile ≥ 50 % of bare's requests/s for each case.
 *
 *   deno run -A bench/floor.ts [--rounds 3] [--seconds 6] [--concurrency 16]
 */
import { BENCH_SLIDE_ID, makeBenchSlide } from "./make_slide.ts";
import { benchArgs, ensureDebianPackages, freePort, median, startServer, wrkLoad } from "./lib.ts";

const { rounds, seconds, concurrency } = benchArgs({ rounds: 3, seconds: 6, concurrency: 16 });

/**
 * `Deno.serve` in its own process answering `body` with `type` to every request; `guarded`: behind
 * edgetile's connection guard with its default deadlines, as `server.ts` puts the service (the guard's own
 * share of the floor).
 */
async function bareServer(body: Uint8Array, type: string, guarded = false) {
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/body`, body);
  const port = freePort();
  const guard = new URL("../security/conn_guard.ts", import.meta.url).href;
  const serve = (addr: string) =>
    `Deno.serve({ ${addr}, onListen() {} }, () =>
  new Response(body, { headers: { "content-type": ${JSON.stringify(type)} } }))`;
  const script = `const body = Deno.readFileSync(${JSON.stringify(`${dir}/body`)});\n` +
    (guarded
      ? `import { guardConnections } from ${JSON.stringify(guard)};
const inner = ${serve(`hostname: "127.0.0.1", port: 0`)};
guardConnections({ hostname: "127.0.0.1", port: ${port} }, inner.addr, { headerMs: 10000, writeMs: 10000, idleMs: 60000 });`
      : `${serve(`hostname: "127.0.0.1", port: ${port}`)};`);
  await Deno.writeTextFile(`${dir}/bare.ts`, script);
  const child = new Deno.Command(Deno.execPath(), { args: ["run", "-A", `${dir}/bare.ts`], stdout: "null" }).spawn();
  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 100 && !(await fetch(url).then((r) => (r.body?.cancel(), true), () => false)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    stop: async () => {
      child.kill();
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

if (import.meta.main) {
  await ensureDebianPackages([["command -v wrk", "wrk"]]);
  const slide = await makeBenchSlide();
  const edgetile = await startServer({ IMAGES_DIR: slide.slice(0, slide.lastIndexOf("/")) });
  const cases = {
    health: `${edgetile.url}/health`,
    "cached tile": `${edgetile.url}/iiif/3/${BENCH_SLIDE_ID}/4096,4096,256,256/256,/0/gray.jpg`,
  };
  const bare: Record<string, Awaited<ReturnType<typeof bareServer>>> = {};
  const guarded: Record<string, Awaited<ReturnType<typeof bareServer>>> = {};
  try {
    for (const [name, url] of Object.entries(cases)) {
      const res = await fetch(url);
      const body = new Uint8Array(await res.arrayBuffer());
      const type = res.headers.get("content-type") ?? "application/octet-stream";
      bare[name] = await bareServer(body, type);
      guarded[name] = await bareServer(body, type, true);
      console.log(`${name}: ${body.length} bytes`);
    }
    const rows: Record<string, number[]> = {}, guardRows: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      for (const threads of [1, 2]) {
        for (const name of Object.keys(cases) as (keyof typeof cases)[]) {
          const order = (r + threads) % 2 ? ["bare", "guarded", "edgetile"] : ["edgetile", "guarded", "bare"];
          const got: Record<string, number> = {};
          for (const who of order) {
            const url = who === "bare" ? bare[name].url : who === "guarded" ? guarded[name].url : cases[name];
            const res = await wrkLoad(`${name} ${who}`, [url], seconds, concurrency, true, threads);
            got[who] = res.tilesPerSec;
          }
          (rows[`${name}|${threads}`] ??= []).push(got.edgetile / got.bare);
          (guardRows[`${name}|${threads}`] ??= []).push(got.guarded / got.bare);
          console.log(
            `round ${r + 1}, ${threads} thread(s), ${name}: bare ${got.bare.toFixed(0)}/s, bare behind the guard ${
              got.guarded.toFixed(0)
            }/s, edgetile ${got.edgetile.toFixed(0)}/s, ${(100 * got.edgetile / got.bare).toFixed(0)} %`,
          );
        }
      }
    }
    console.log(
      `\nwrk -c${concurrency} -d${seconds}s, ${rounds} rounds: edgetile's requests/s as a share of bare Deno.serve's`,
    );
    console.log("| case | wrk threads | edgetile (median) | rounds | bare behind the guard (median) |");
    console.log("| --- | --- | --- | --- | --- |");
    const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
    for (const [key, ratios] of Object.entries(rows)) {
      const [name, threads] = key.split("|");
      console.log(
        `| ${name} | ${threads} | ${pct(median(ratios))} | ${ratios.map(pct).join(", ")} | ${
          pct(median(guardRows[key]))
        } |`,
      );
    }
  } finally {
    await edgetile.stop();
    for (const b of [...Object.values(bare), ...Object.values(guarded)]) await b.stop();
  }
}
