/**
 * Local server: `deno task start` (and the Docker image) listen on `EDGETILE_PORT` with the handler of
 * `main.ts`, behind the connection guard (security/conn_guard.ts: deadlines for request heads, response
 * writes and idle connections, which `Deno.serve` lacks) unless `EDGETILE_CLIENT_TIMEOUT_MS=0`. SIGTERM or
 * SIGINT drains: no new connections, requests in flight finish (at most `DRAIN_MS`), then the workers and
 * KV close and the process exits 0. The guard's front (`service.front`) answers repeated tiles and `/health`
 * itself, and has the app answer any other plain `GET` in-process: no relay, no HTTP server work.
 */
import { config, drainOnSignal, service } from "./main.ts";
import { guardConnections } from "./security/conn_guard.ts";
import { log } from "./telemetry/log.ts";

const announce = (hostname: string, port: number, guard: string) =>
  log().info(
    `edgetile on http://${
      hostname === "0.0.0.0" ? "localhost" : hostname
    }:${port} — images from ${config.imagesDir}, ` +
      `backend ${config.backend} (ops on the ${service.context.backend.name} until start-up decides), ` +
      `codecs ${service.context.codecs.tier} (${service.context.codecs.reason}), ${guard}`,
  );

let server: Deno.HttpServer;
let stopAccepting = () => {};
let relaysSettled = () => Promise.resolve();

if (config.clientTimeoutMs > 0) {
  // The HTTP server on a loopback port of its own; the guard takes the public address.
  // The HTTP server sees each client through its relay: the access log gets the client's own address.
  const relays: { guard?: ReturnType<typeof guardConnections> } = {};
  const inner = server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => {
      const client = relays.guard?.clientOf(info.remoteAddr as Deno.NetAddr);
      return service.fetch(req, { ...info, remoteAddr: client ?? info.remoteAddr });
    },
  );
  const idleMs = Math.max(60_000, config.timeoutMs + 15_000);
  const guard = relays.guard = guardConnections({ hostname: config.hostname, port: config.port }, inner.addr, {
    headerMs: config.clientTimeoutMs,
    writeMs: config.clientTimeoutMs,
    idleMs,
  }, service.front);
  service.context.metrics.watchConnections(guard.stats);
  stopAccepting = () => guard.close();
  relaysSettled = () => guard.settled();
  announce(config.hostname, guard.addr.port, `client deadlines ${config.clientTimeoutMs} ms (idle ${idleMs} ms)`);
} else {
  server = Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ hostname, port }) => announce(hostname, port, "no client deadlines (EDGETILE_CLIENT_TIMEOUT_MS=0)"),
  }, service.fetch);
}

// SIGTERM/SIGINT: no new connections; the HTTP server finishes its responses, then the guard passes their
// last bytes on.
drainOnSignal("requests in flight", () => {
  stopAccepting();
  return server.shutdown().then(relaysSettled);
});
