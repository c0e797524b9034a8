/**
 * Image statistics and tissue: `GET /images/{id}/stats` (histograms, Otsu thresholds, percentiles,
 * tissue share; `?palette=K[&rescale=…]` adds that palette), `GET /images/{id}/tissue.png` (the tissue
 * map, 1-bit PNG) and `GET /images/{id}/tissue.ndjson|json?downsample=1|mpp=|magnification=&size=256&stride=&min=0.5`
 * (grid cells whose tissue fraction ≥ min). Computed once per image version in a worker (stats/service.ts).
 */
import type { Context } from "hono";
import { badRequest } from "../errors.ts";
import { parseRescale } from "../kernels/rescale.ts";
import { parsePlane } from "../service/render_query.ts";
import type { AppContext } from "../service/context.ts";
import { workSignalOf } from "../pipeline/abort.ts";
import { decodeId } from "./ids.ts";
import { numberParam, parseGridParams, resolveGridScale } from "../service/query.ts";
import { scaleOfDownsample } from "../pyramid/physical.ts";
import { gridCellCount, MAX_GRID_CELLS, type TissueCell, tissueCells, tissueIntegralOf } from "../stats/tissue_grid.ts";
import { streamed } from "../telemetry/http.ts";

/** Most tiles one `tissue.json` body lists (~6 MB); `tissue.ndjson` streams any number. */
export const MAX_JSON_TILES = 50_000;

/** `/images/{id}/stats`: the image's statistics (and a palette). */
export async function imageStats(ctx: AppContext, c: Context, m: RegExpExecArray): Promise<Response> {
  const query = new URL(c.req.url).searchParams;
  const id = decodeId(m[1], ctx.config.slashSubstitute);
  const k = query.has("palette")
    ? numberParam(query, "palette", 0, (v) => Number.isInteger(v) && v >= 2 && v <= 256, "an integer in 2..256")
    : 0;
  const rescaleRaw = parseRescale(query.get("rescale"));
  const image = await ctx.registry.resolve(id);
  // `z=`/`t=` (or `time=`): the statistics of that plane of a multi-plane source.
  const computed = await ctx.stats.get(image.source, parsePlane(query, image.info));
  const body: Record<string, unknown> = { id, version: image.source.version, ...computed.stats };
  if (k) body.palette = await ctx.stats.reportedPalette(image.source, k, rescaleRaw);
  return c.json(body);
}

/** `/images/{id}/tissue.png`: the tissue map. */
export async function tissuePng(ctx: AppContext, c: Context, m: RegExpExecArray): Promise<Response> {
  const image = await ctx.registry.resolve(decodeId(m[1], ctx.config.slashSubstitute));
  const computed = await ctx.stats.get(image.source);
  return c.body(computed.tissuePng as Uint8Array<ArrayBuffer>, 200, {
    "Content-Type": "image/png",
    "Cache-Control": `public, max-age=${ctx.config.cacheTtl}`,
  });
}

/** `/images/{id}/tissue.{ndjson|json}`: the grid cells with tissue. */
export async function tissueList(ctx: AppContext, c: Context, list: RegExpExecArray): Promise<Response> {
  const query = new URL(c.req.url).searchParams;
  const id = decodeId(list[1], ctx.config.slashSubstitute);
  const image = await ctx.registry.resolve(id);
  const computed = await ctx.stats.get(image.source);
  const grid = resolveGridScale(parseGridParams(query), image.info);
  const { downsample, size, stride, min } = grid;
  const { width, height } = image.info;
  const gridCells = gridCellCount(width, height, grid);
  if (gridCells > MAX_GRID_CELLS) {
    throw badRequest(
      `the grid has more than ${MAX_GRID_CELLS.toLocaleString("en")} cells: raise size, stride or downsample`,
    );
  }
  const { tissue } = computed.stats;
  const integral = tissueIntegralOf(computed.tissueMap, tissue.width, tissue.height);
  const signal = workSignalOf(c.req.raw);
  if (list[2] === "json") {
    // One JSON body is built in memory: at most MAX_JSON_TILES tiles (the ndjson listing streams any number).
    const tiles: TissueCell[] = [];
    for await (const cell of tissueCells(width, height, integral, grid, signal)) {
      if (tiles.length === MAX_JSON_TILES) {
        throw badRequest(
          `more than ${MAX_JSON_TILES} tiles: use tissue.ndjson (streamed), or raise min, size, stride or downsample`,
        );
      }
      tiles.push(cell);
    }
    return c.json({
      id,
      version: image.source.version,
      downsample,
      ...scaleOfDownsample(image.info, downsample),
      size,
      stride,
      min,
      tiles,
      totals: { tiles: tiles.length, gridCells, tissueFraction: tissue.fraction },
    });
  }
  const enc = new TextEncoder();
  const cells = tissueCells(width, height, integral, grid, signal);
  const stream = new ReadableStream<Uint8Array>({
    // Each pull walks on (pausing for the event loop) until it has lines to send or the grid ends: a
    // stretch without tissue never stalls the stream.
    async pull(controller) {
      let chunk = "";
      for (let i = 0; i < 512; i++) {
        const next = await cells.next();
        if (next.done) {
          if (chunk) controller.enqueue(enc.encode(chunk));
          controller.close();
          return;
        }
        chunk += JSON.stringify(next.value) + "\n";
      }
      controller.enqueue(enc.encode(chunk));
    },
    async cancel() {
      await cells.return(undefined);
    },
  });
  return new Response(stream, { headers: streamed({ "Content-Type": "application/x-ndjson" }) });
}
