# edgetile: the official Deno image, a non-root user, and the same least-privilege permissions as
# `deno task start` (the task itself is the command). Tests, benchmarks and their images stay out
# (.dockerignore). It listens on 0.0.0.0:$EDGETILE_PORT; SIGTERM drains in-flight requests (≤ 10 s).
FROM denoland/deno:2.9.6

WORKDIR /app
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY . .
RUN deno cache server.ts main.ts workers/tile_worker.ts cli/permissions.ts \
  && mkdir -p /app/data && chown deno:deno /app/data

USER deno
# The tile cache (Deno KV file); mount a volume to keep it across containers.
VOLUME /app/data
ENV EDGETILE_PORT=8000 EDGETILE_IMAGES_DIR=./samples
EXPOSE 8000
# Healthy when /ready says so (workers up, backend chosen, KV writable); deno eval needs no curl.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('EDGETILE_PORT')}/ready`); Deno.exit(r.ok ? 0 : 1)"]
STOPSIGNAL SIGTERM
CMD ["task", "start"]
