/** wrk (Debian's) as a benchmark client over a list of URLs: each once in order, or round-robin. */
import type { Result } from "./lib.ts";

/**
 * Like `load`, with wrk (Debian `wrk`, `threads` client threads sharing `concurrency` keep-alive
 * connections) as the client: a C client takes much less of the shared cores than our Deno one. `urls`
 * share one origin; each is requested once in order (thread i of n takes every n-th) or, with `cycle`,
 * round-robin; ≤ `seconds`. A run that uses its list up stops there, before any repeat is counted: each
 * thread says DONE and, once all have, we interrupt wrk, which then reports the time actually taken (wrk
 * itself would wait out `-d`).
 */
export async function wrkLoad(
  name: string,
  urls: string[],
  seconds: number,
  concurrency: number,
  cycle = false,
  threads = 1,
): Promise<Result> {
  const origin = new URL(urls[0]).origin;
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/paths`, urls.map((u) => u.slice(origin.length)).join("\n") + "\n");
    await Deno.writeTextFile(
      `${dir}/paths.lua`,
      `local threads, counter = ${threads}, 0
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
end
local paths = {}
local sent, got, last = 0, 0, math.huge
init = function()
  local n = 0
  for line in io.lines("${dir}/paths") do
    if n % threads == id then paths[#paths + 1] = line end
    n = n + 1
  end
  -- fewer paths than threads (one URL asked over and over): every thread asks them all; without this a
  -- thread with none asked wrk's default "/"
  if #paths == 0 then for line in io.lines("${dir}/paths") do paths[#paths + 1] = line end end
  -- the last answer that cannot be a repeat: later requests would start the list over
  if not ${cycle} then last = #paths - math.ceil(${concurrency} / threads) + 1 end
end
request = function()
  sent = sent + 1
  return wrk.format("GET", paths[((sent - 1) % #paths) + 1])
end
response = function(status)
  got = got + 1
  if got == last then
    wrk.thread:stop()
    io.write("DONE\\n")
    io.flush()
  end
end
done = function(summary, latency)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%d,"us":%d,"bytes":%d,"errors":%d,"p50":%d,"p99":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`,
    );
    const child = new Deno.Command("wrk", {
      args: [
        `-t${threads}`,
        `-c${concurrency}`,
        `-d${seconds}s`,
        "--timeout",
        "10s",
        "-s",
        `${dir}/paths.lua`,
        origin + "/",
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout((seconds + 30) * 1000),
    }).spawn();
    let out = "";
    const dec = new TextDecoder();
    for await (const chunk of child.stdout) {
      out += dec.decode(chunk, { stream: true });
      if (out.split("DONE\n").length > threads && !out.includes("WRK ")) {
        try {
          child.kill("SIGINT");
        } catch { /* already gone */ }
      }
    }
    const { code } = await child.status;
    const err = dec.decode(await new Response(child.stderr).arrayBuffer());
    const m = /WRK (\{.*\})/.exec(out);
    if (!m) throw new Error(`wrk gave no summary (exit ${code}): ${(out + err).slice(-500)}`);
    const w = JSON.parse(m[1]);
    return {
      name,
      tiles: w.requests,
      errors: w.errors,
      seconds: w.us / 1e6,
      tilesPerSec: w.requests / (w.us / 1e6),
      p50: w.p50 / 1000,
      p99: w.p99 / 1000,
      bytes: w.bytes,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
