# edgetile: the official Deno image, a non-root user, and the same least-privilege permissions as
# `deno task start` (the task itself is the command).
FROM denoland/deno:2.9.6

WORKDIR /app
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY . .
RUN deno cache server.ts main.ts workers/tile_worker.ts \
  && mkdir -p /app/data && chown deno:deno /app/data

USER deno
# The tile cache (Deno KV file); mount a volume to keep it across containers.
VOLUME /app/data
ENV EDGETILE_PORT=8000 EDGETILE_IMAGES_DIR=./samples
EXPOSE 8000
CMD ["task", "start"]
