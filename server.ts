/**
 * Local server: `deno task start` (and the Docker image) listen on `EDGETILE_PORT` with the handler of
 * `main.ts`, behind the connection guard (security/conn_guard.ts: deadlines for request heads, response
 * writes and idle connections, which `Deno.serve` lacks) unless `EDGETILE_CLIENT_TIMEOUT_MS=0`. SIGTERM or
 * SIGINT drains: no new connections, requests in flight finish (at most `DRAIN_MS`), then the workers and
 * KV close and the process exits 0.
 */
import { config, service } from "./main.ts";
import { guardConnections } from "./security/conn_guard.ts";
import { errorText, flushLog, log } from "./telemetry/log.ts";

const announce = (hostname: string, port: number, guard: string) =>
  log().info(
    `edgetile on http://${
      hostname === "0.0.0.0" ? "localhost" : hostname
    }:${port} — images from ${config.imagesDir}, ` +
      `backend ${config.backend} (ops on the ${service.context.backend.name} until start-up decides), ` +
      `codecs ${service.context.codecs.tier} (${service.context.codecs.reason}), ${guard}`,
  );

/** The longest a drain waits for requests in flight. */
const DRAIN_MS = 10_000;

let server: Deno.HttpServer;
let stopAccepting = () => {};
let relaysSettled = () => Promise.resolve();

if (config.clientTimeoutMs > 0) {
  // The HTTP server on a loopback port of its own; the guard takes the public address.
  const inner = server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, service.app.fetch);
  const idleMs = Math.max(60_000, config.timeoutMs + 15_000);
  const guard = guardConnections({ hostname: config.hostname, port: config.port }, inner.addr, {
    headerMs: config.clientTimeoutMs,
    writeMs: config.clientTimeoutMs,
    idleMs,
  });
  service.context.metrics.watchConnections(guard.stats);
  stopAccepting = () => guard.close();
  relaysSettled = () => guard.settled();
  announce(config.hostname, guard.addr.port, `client deadlines ${config.clientTimeoutMs} ms (idle ${idleMs} ms)`);
} else {
  server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ hostname, port }) => announce(hostname, port, "no client deadlines (EDGETILE_CLIENT_TIMEOUT_MS=0)"),
  }, service.app.fetch);
}

/** Drains and exits: called once, on the first SIGTERM or SIGINT. */
async function drain(signal: string) {
  const t0 = performance.now();
  log().info(`edgetile: ${signal}: draining (requests in flight get up to ${DRAIN_MS / 1000} s)`);
  stopAccepting();
  const finished = await Promise.race([
    // The HTTP server finishes its responses, then the guard passes their last bytes on.
    server.shutdown().then(relaysSettled).then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), DRAIN_MS)),
  ]);
  await service.close();
  log().info(
    `edgetile: stopped after ${Math.round(performance.now() - t0)} ms` +
      (finished ? "" : ` (requests still running after ${DRAIN_MS / 1000} s were cut)`),
  );
  flushLog();
  Deno.exit(0);
}

let draining = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => {
    if (draining) return;
    draining = true;
    drain(signal).catch((err) => {
      log().error(`edgetile: drain failed: ${errorText(err)}`);
      Deno.exit(1);
    });
  });
}
