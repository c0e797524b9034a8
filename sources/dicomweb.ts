/**
 * DICOMweb as a source: a slide-microscopy series in a PACS or cloud DICOM store is one image, id
 * `dicomweb/{name}/{StudyInstanceUID}/{SeriesInstanceUID}`, `name` one of the servers in the settings
 * (`EDGETILE_DICOMWEB`, with an optional Authorization per server from `EDGETILE_DICOMWEB_AUTH`, never from
 * a URL). QIDO-RS lists the SM series (paged) and gives a series' version (its instances' SOPInstanceUIDs
 * and frame counts, so a replaced series is a new version); WADO-RS series metadata (DICOM JSON) is read
 * once per version into the same instances as files (`dicom.ts`); frames come by WADO-RS frame retrieval
 * (`dicomweb_frames.ts`). Every request goes through the remote-source rules (`remote.ts`: only the
 * server's own origin, special addresses only when configured as such, time and size limits).
 */
import { boundedBody, guardedFetch, type RemotePolicy } from "./remote.ts";
import { type DicomInstance, instanceFromAttrs } from "./dicom.ts";
import { jsonAttrs } from "./dicom_attrs.ts";
import { batchedFrames, fetchFrames, upstreamStatus } from "./dicomweb_frames.ts";
import type { Runtime } from "../cache/runtime.ts";
import { openDicomInstances } from "./dicom_series.ts";
import type { ImageSource } from "./source.ts";
import { sha256Hex } from "../cache/key.ts";
import { HttpError, notFound, unsupportedSource } from "../errors.ts";
import type { DicomwebServer } from "./dicomweb_settings.ts";

/** A DICOMweb series to open: plain data (it travels to workers in the source descriptor). */
export interface DicomwebSeries {
  server: DicomwebServer;
  study: string;
  series: string;
  policy: RemotePolicy;
}

/** The VL Whole Slide Microscopy Image Storage SOP class. */
const WSI_CLASS = "1.2.840.10008.5.1.4.1.1.77.1.6";

/** Most series a listing pages through, and instances a series may hold. */
const MAX_LISTED = 10_000, MAX_INSTANCES = 10_000, PAGE = 500;

const UID = /^[0-9]+(\.[0-9]+)*$/;

/** The parts of a DICOMweb id, or null when `id` is not one; 400 for a malformed one. */
export function parseDicomwebId(id: string): { name: string; study: string; series: string } | null {
  if (!id.startsWith("dicomweb/")) return null;
  const parts = id.split("/");
  if (
    parts.length !== 4 || !UID.test(parts[2]) || !UID.test(parts[3]) || parts[2].length > 64 || parts[3].length > 64
  ) {
    throw new HttpError(400, "bad_id", `a DICOMweb id is dicomweb/{server}/{StudyInstanceUID}/{SeriesInstanceUID}`);
  }
  return { name: parts[1], study: parts[2], series: parts[3] };
}

/** The rules for one server: the remote policy, allowing its own origin only. */
export function serverPolicy(server: DicomwebServer, base: RemotePolicy): RemotePolicy {
  return { ...base, allowedOrigins: [new URL(server.base).origin] };
}

function headersOf(server: DicomwebServer): Record<string, string> {
  return server.authorization ? { Authorization: server.authorization } : {};
}

/** A DICOM JSON answer (an array of objects; `204 No Content` is an empty one). */
async function dicomJson(url: string, server: DicomwebServer, policy: RemotePolicy): Promise<Record<string, never>[]> {
  const res = await guardedFetch(url, { headers: { ...headersOf(server), Accept: "application/dicom+json" } }, policy);
  if (res.status === 204) return [];
  if (!res.ok) {
    await res.body?.cancel();
    throw upstreamStatus(res.status, url);
  }
  const body = await boundedBody(res, policy.maxBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new HttpError(502, "bad_gateway", `${url} did not answer DICOM JSON`);
  }
  if (!Array.isArray(parsed)) throw new HttpError(502, "bad_gateway", `${url} did not answer a DICOM JSON array`);
  return parsed;
}

/** All pages of a QIDO-RS query (`limit`/`offset`), at most `max` results. */
async function qido(url: string, server: DicomwebServer, policy: RemotePolicy, max: number) {
  const out: Record<string, never>[] = [];
  for (let offset = 0; out.length < max; offset += PAGE) {
    const page = await dicomJson(
      `${url}${url.includes("?") ? "&" : "?"}limit=${PAGE}&offset=${offset}`,
      server,
      policy,
    );
    out.push(...page);
    if (page.length < PAGE) break;
  }
  return out.slice(0, max);
}

/** The slide-microscopy series of `server` (QIDO-RS `Modality=SM`), as ids with their description. */
export async function listDicomwebSeries(
  server: DicomwebServer,
  policy: RemotePolicy,
): Promise<{ id: string; description?: string; instances?: number }[]> {
  const rows = await qido(`${server.base}/series?Modality=SM&includefield=0008103E`, server, policy, MAX_LISTED);
  return rows.flatMap((r) => {
    const a = jsonAttrs(r);
    const study = a.str("0020000D"), series = a.str("0020000E");
    if (!study || !series || !UID.test(study) || !UID.test(series)) return [];
    const description = a.str("0008103E"), instances = a.num("00201209");
    return [{
      id: `dicomweb/${server.name}/${study}/${series}`,
      ...(description ? { description } : {}),
      ...(instances !== undefined ? { instances } : {}),
    }];
  });
}

/** A series' version: a hash of its instances' SOPInstanceUIDs and frame counts (from QIDO-RS or metadata). */
function versionOf(instances: Record<string, never>[]): string {
  const rows = instances.map((r) => {
    const a = jsonAttrs(r);
    return `${a.str("00080018") ?? ""}:${a.str("00280008") ?? ""}`;
  }).sort();
  return `dw-${sha256Hex(rows.join("\n")).slice(0, 24)}`;
}

/** The current version of a series (QIDO-RS of its instances); 404 when it has none. */
export async function dicomwebVersion(s: DicomwebSeries): Promise<string> {
  const url = `${s.server.base}/studies/${s.study}/series/${s.series}/instances?includefield=00280008`;
  const rows = await qido(url, s.server, s.policy, MAX_INSTANCES + 1);
  if (!rows.length) throw notFound(`no DICOMweb series ${s.series} in study ${s.study} on "${s.server.name}"`);
  if (rows.length > MAX_INSTANCES) throw unsupportedSource(`a DICOMweb series of more than ${MAX_INSTANCES} instances`);
  return versionOf(rows);
}

/**
 * Opens a series at `version`: its metadata (409 when its instances are no longer those of `version`: the
 * series was replaced in between), one instance per WSI object, frames by WADO-RS.
 */
export async function openDicomweb(
  s: DicomwebSeries,
  version: string,
  cacheKey: string,
  runtime: Runtime,
): Promise<ImageSource> {
  const seriesUrl = `${s.server.base}/studies/${s.study}/series/${s.series}`;
  const metadata = await dicomJson(`${seriesUrl}/metadata`, s.server, s.policy);
  if (versionOf(metadata) !== version) {
    throw new HttpError(409, "source_changed", `DICOMweb series ${s.series} changed while it was opened; retry`);
  }
  const instances: DicomInstance[] = [];
  for (const m of metadata) {
    const a = jsonAttrs(m);
    if (a.str("00080016") !== WSI_CLASS) continue;
    const url = `${seriesUrl}/instances/${a.str("00080018")}`;
    // Frames are asked for as stored; each part says its own coding. JPEG until the first answer says else.
    const frameMax = 2 * (a.num("00280011") ?? 0) * (a.num("00280010") ?? 0) * (a.num("00280002") || 1) + (64 << 10);
    instances.push(
      instanceFromAttrs(
        a,
        url,
        "jpeg",
        () => batchedFrames((numbers) => fetchFrames(url, numbers, s.policy, headersOf(s.server), frameMax)),
      ),
    );
  }
  if (!instances.length) throw unsupportedSource(`DICOMweb series ${s.series} holds no whole-slide image`);
  // The stored coding of the largest level (for the metadata; each frame is decoded by its own).
  const main = instances.filter((i) => i.flavor === "VOLUME").sort((a, b) => b.totalWidth - a.totalWidth)[0];
  if (main) {
    const coding = (await main.readFrame(0)).coding;
    for (const i of instances) i.coding = coding;
  }
  return openDicomInstances(instances, cacheKey, runtime, () => Promise.resolve());
}
