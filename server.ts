/**
 * Local server: `deno task start` (and the Docker image) listen on `PORT` with the handler of `main.ts`,
 * behind the connection guard (security/conn_guard.ts: deadlines for request heads, response writes and
 * idle connections, which `Deno.serve` lacks) unless `CLIENT_TIMEOUT_MS=0`.
 */
import { config, service } from "./main.ts";
import { guardConnections } from "./security/conn_guard.ts";

const announce = (hostname: string, port: number, guard: string) =>
  console.log(
    `edgetile on http://${
      hostname === "0.0.0.0" ? "localhost" : hostname
    }:${port} — images from ${config.imagesDir}, ` +
      `backend ${config.backend} (ops on the ${service.context.backend.name} until start-up decides), ` +
      `codecs ${service.context.codecs.tier} (${service.context.codecs.reason}), ${guard}`,
  );

if (config.clientTimeoutMs > 0) {
  // The HTTP server on a loopback port of its own; the guard takes the public address.
  const inner = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, service.app.fetch);
  const idleMs = Math.max(60_000, config.timeoutMs + 15_000);
  const guard = guardConnections({ hostname: config.hostname, port: config.port }, inner.addr, {
    headerMs: config.clientTimeoutMs,
    writeMs: config.clientTimeoutMs,
    idleMs,
  });
  service.context.metrics.watchConnections(guard.stats);
  announce(config.hostname, guard.addr.port, `client deadlines ${config.clientTimeoutMs} ms (idle ${idleMs} ms)`);
} else {
  Deno.serve({
    port: config.port,
    hostname: config.hostname,
    onListen: ({ hostname, port }) => announce(hostname, port, "no client deadlines (EDGETILE_CLIENT_TIMEOUT_MS=0)"),
  }, service.app.fetch);
}
