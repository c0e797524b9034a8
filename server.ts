/** Local server: `deno task start` (and the Docker image) listen on `PORT` with the handler of `main.ts`. */
import { config, service } from "./main.ts";

Deno.serve({
  port: config.port,
  hostname: config.hostname,
  onListen: ({ hostname, port }) =>
    console.log(
      `edgetile on http://${
        hostname === "0.0.0.0" ? "localhost" : hostname
      }:${port} — images from ${config.imagesDir}, ` +
        `backend ${config.backend} (ops on the ${service.context.backend.name} until start-up decides), ` +
        `codecs ${service.context.codecs.tier} (${service.context.codecs.reason})`,
    ),
}, service.app.fetch);
