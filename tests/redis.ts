/**
 * A real Redis for the tests: Debian's `redis-server` started on a free loopback port, in memory only (no
 * snapshot, no append-only file), stopped (and startable again on the same port) by the test.
 */
import { freePort } from "./helpers.ts";

/** A running redis-server. */
export interface TestRedis {
  url: string;
  port: number;
  /** Keys under `pattern` (`redis-cli --scan`). */
  keys(pattern: string): Promise<string[]>;
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: it kept nothing). */
  restart(): Promise<void>;
}

async function ping(port: number): Promise<boolean> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-p", String(port), "ping"],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  return new TextDecoder().decode(out.stdout).trim() === "PONG";
}

/**
 * Starts redis-server on a free port and waits until it answers (30 s only catches a hang); `args` are
 * a deployment's own (maxmemory, eviction policy) added to the test's port, bind and no-persistence ones.
 */
export async function startRedis(args: string[] = []): Promise<TestRedis> {
  const port = freePort();
  let child: Deno.ChildProcess;
  const start = async () => {
    child = new Deno.Command("redis-server", {
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...args],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 300 && !(await ping(port)); i++) await new Promise((r) => setTimeout(r, 100));
    if (!(await ping(port))) throw new Error("redis-server did not start");
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    keys: async (pattern) => {
      const out = await new Deno.Command("redis-cli", { args: ["-p", String(port), "--scan", "--pattern", pattern] })
        .output();
      return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean);
    },
    stop: async () => {
      child.kill("SIGKILL");
      await child.status;
    },
    restart: start,
  };
}
