/**
 * Redis down, slow or full (issue 40, part 2): every tile is still an answer, computed within the request's
 * time limit, the failures counted in /metrics; the connection's state is told once per change (down, up),
 * not once per failed command.
 */
import { assert, assertEquals } from "./assert.ts";
import { get, SAMPLES, startServer } from "./helpers.ts";
import { startRedis } from "./redis.ts";
import { RedisBlobStore } from "../cache/redis_store.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const hasRedis = await new Deno.Command("sh", { args: ["-c", "command -v redis-server"] }).output()
  .then((o) => o.success, () => false);
const redisOpts = { ...opts, ignore: !hasRedis && Deno.env.get("CI") !== "true" };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** The sum of `edgetile_kv_errors_total` for `op`. */
async function errors(url: string, op: string): Promise<number> {
  const m = text((await get(`${url}/metrics`)).body);
  return Number(new RegExp(`^edgetile_kv_errors_total\\{op="${op}"\\} (\\d+)`, "m").exec(m)?.[1] ?? 0);
}

/** Waits (a hang guard: 20 s) until `check` holds. */
async function until(check: () => boolean | Promise<boolean>, what: string) {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting: ${what}`);
}

Deno.test("the Redis connection's state is told once per change: up, down, up again", redisOpts, async () => {
  const redis = await startRedis();
  const states: string[] = [];
  const store = new RedisBlobStore(redis.url, "s:", (up, where) => states.push(`${up ? "up" : "down"} ${where}`));
  try {
    await until(() => states.length === 1, "connected");
    await redis.stop();
    await until(() => states.length === 2, "the loss told");
    await new Promise((r) => setTimeout(r, 1500)); // reconnection attempts fail meanwhile: no more lines
    await redis.restart();
    await until(() => states.length === 3, "the return told");
    const where = `127.0.0.1:${redis.port}`;
    assertEquals(states, [`up ${where}`, `down ${where}`, `up ${where}`]);
  } finally {
    await store.close();
    await redis.stop().catch(() => {});
  }
  assertEquals(states.length, 3, "its own close is no change of state");
});

Deno.test(
  "Redis slow (clients paused) or full (noeviction at its limit): tiles served, failures counted",
  redisOpts,
  async () => {
    const redis = await startRedis(["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]);
    const s = startServer({ IMAGES_DIR: SAMPLES, BACKEND: "workers", WORKERS: "1", CACHE_URL: redis.url });
    try {
      await until(async () => JSON.parse(text((await get(`${s.url}/ready`)).body)).cache.reachable, "connected");
      // Full: writes are refused (OOM) once it holds its 2 MB; a whole-slide PNG of megabytes is past it.
      for (let i = 0; i < 3; i++) {
        const r = await get(`${s.url}/thumbnail/CMU-1-Small-Region.svs.png?width=${2000 + i}`);
        assertEquals(r.status, 200);
      }
      await until(async () => (await errors(s.url, "set")) > 0, "refused writes counted");
      // Slow: every client paused for 4 s; each command gives up after its deadline and the tile is computed.
      const cli = await new Deno.Command("redis-cli", {
        args: ["-p", String(redis.port), "client", "pause", "4000", "ALL"],
      })
        .output();
      assertEquals(text(cli.stdout).trim(), "OK");
      const before = await errors(s.url, "get");
      const tiles = await Promise.all(
        [0, 1, 2].map((i) => get(`${s.url}/dzi/CMU-1-Small-Region.svs_files/12/${i}_7.jpeg?op=gray`)),
      );
      assertEquals(tiles.map((t) => t.status), [200, 200, 200]);
      assert((await errors(s.url, "get")) > before, "timed-out reads counted");
    } finally {
      await s.close();
      await redis.stop();
    }
  },
);
