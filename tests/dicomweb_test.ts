/**
 * DICOMweb sources (issue 38, part 2) against a real server: Debian's Orthanc with its DICOMweb plugin,
 * started here on 127.0.0.1 with Basic authentication and loaded with the WG-26 fluorescence series and the
 * dicomized CMU slide. Every route's answer for the DICOMweb series equals, byte for byte, the answer for the
 * same series read as files; a replaced series is a new version; refusals and broken answers are clear errors.
 */
import { assert, assertEquals } from "./assert.ts";
import { DATA, get, withServer } from "./helpers.ts";
import { startOrthanc } from "./orthanc.ts";
import { isDicomHead } from "../sources/dicom.ts";
import { batchedFrames, fetchFrames } from "../sources/dicomweb_frames.ts";
import type { StoredFrame } from "../sources/dicom.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const BPAEC = "dicom-wg26__BPAEC", CMU = "generated__cmu-1-small-region_dicom";

/** The DICOM files of a folder (by content: the WG-26 files have no extension). */
async function dicomFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const head = (await Deno.readFile(`${dir}/${e.name}`)).subarray(0, 132);
    if (isDicomHead(head)) out.push(`${dir}/${e.name}`);
  }
  return out.sort();
}

/** Study and series UIDs of an instance Orthanc holds (its REST API). */
async function uidsOf(rest: string, auth: string, instance: string): Promise<[string, string]> {
  const headers = { Authorization: auth };
  const json = async (path: string) => await (await fetch(rest + path, { headers })).json();
  const inst = await json(`/instances/${instance}`);
  const series = await json(`/series/${inst.ParentSeries}`);
  const study = await json(`/studies/${series.ParentStudy}`);
  return [study.MainDicomTags.StudyInstanceUID, series.MainDicomTags.SeriesInstanceUID];
}

/** Routes compared for a series: Deep Zoom at every level, IIIF, XYZ, thumbnail, associated, Zarr, export. */
function routesFor(id: string, levels: number, label: boolean, mpp: number): string[] {
  const e = encodeURIComponent(id);
  return [
    `/dzi/${e}.dzi`,
    ...Array.from({ length: levels }, (_, l) => `/dzi/${e}_files/${l}/0_0.jpeg`),
    `/dzi/${e}_files/${levels - 1}/1_1.png`,
    `/iiif/3/${e}/512,512,1024,768/256,/0/default.png`,
    `/iiif/3/${e}/full/max/0/default.jpg`,
    `/xyz/${e}/2/1/1.png`,
    `/thumbnail/${e}.png?width=200`,
    ...(label ? [`/images/${e}/associated/label.png`] : []),
    `/zarr/${e}/0/0/1/1`,
    `/images/${e}/patches.ndjson?mpp=${mpp}&size=256&min=0`,
  ];
}

Deno.test("a DICOMweb series (a real Orthanc) is the same image as its files, through every route", opts, async () => {
  const orthanc = await startOrthanc();
  try {
    const bpaec = await orthanc.upload(await dicomFiles(DATA + BPAEC));
    const cmu = await orthanc.upload(await dicomFiles(DATA + CMU));
    const [bStudy, bSeries] = await uidsOf(orthanc.rest, orthanc.authorization, bpaec[0]);
    const [cStudy, cSeries] = await uidsOf(orthanc.rest, orthanc.authorization, cmu[0]);
    const env = {
      IMAGES_DIR: DATA,
      KV_PATH: "off",
      DICOMWEB: `pacs=${orthanc.dicomweb},nokey=${orthanc.dicomweb}/`,
      DICOMWEB_AUTH: `pacs=${orthanc.authorization}`,
      REMOTE_REVALIDATE_S: "0",
    };
    await withServer(env, async (s) => {
      const listing = await get(`${s.url}/images?source=dicomweb/pacs`);
      assertEquals(listing.status, 200, text(listing.body));
      const ids = JSON.parse(text(listing.body)).images.map((i: { id: string }) => i.id).sort();
      const web = { bpaec: `dicomweb/pacs/${bStudy}/${bSeries}`, cmu: `dicomweb/pacs/${cStudy}/${cSeries}` };
      assertEquals(ids, [web.bpaec, web.cmu].sort());
      for (const [file, id, label] of [[BPAEC, web.bpaec, true], [CMU, web.cmu, false]] as const) {
        const info = JSON.parse(text((await get(`${s.url}/images/${encodeURIComponent(id)}`)).body));
        const fileInfo = JSON.parse(text((await get(`${s.url}/images/${file}`)).body));
        for (const k of ["width", "height", "channels", "channelList", "mpp", "levels", "associated", "compression"]) {
          assertEquals(info[k], fileInfo[k], `${id}: ${k}`);
        }
        assert(/^dw-/.test(info.version), info.version);
        const levels = info.deepZoom.levels as number;
        for (const path of routesFor(id, levels, label, 2 * Math.max(info.mpp.x, info.mpp.y))) {
          const a = await get(s.url + path);
          const b = await get(s.url + path.replace(encodeURIComponent(id), file));
          assertEquals(a.status, 200, `${path}: ${text(a.body).slice(0, 300)}`);
          assertEquals(b.status, 200, `${path} (files): ${text(b.body).slice(0, 300)}`);
          // Text answers name the image and its version: those aside, the same text.
          const plain = (t: string, name: string) =>
            t.replaceAll(encodeURIComponent(name), "ID").replaceAll(name, "ID").replace(/"version":"[^"]+"/g, "V")
              .replace(/"seconds":[0-9.]+/, "S");
          const same = path.endsWith(".dzi") || path.includes("patches")
            ? plain(text(a.body), id) === plain(text(b.body), file)
            : a.body.length === b.body.length && a.body.every((v, i) => v === b.body[i]);
          assert(same, `${path}: the DICOMweb answer differs from the files' answer`);
        }
      }
      // A server without the credentials is refused by Orthanc: a clear 502 naming the credentials.
      const refused = await get(`${s.url}/images/${encodeURIComponent(`dicomweb/nokey/${bStudy}/${bSeries}`)}`);
      assertEquals(refused.status, 502, text(refused.body));
      assert(/refused .*401.*credentials/.test(JSON.parse(text(refused.body)).error.message), text(refused.body));
      // Unknown server, unknown series, malformed id, bad listing source.
      for (
        const [path, status] of [
          [`/images/${encodeURIComponent(`dicomweb/other/${bStudy}/${bSeries}`)}`, 404],
          [`/images/${encodeURIComponent(`dicomweb/pacs/${bStudy}/1.2.3`)}`, 404],
          [`/images/${encodeURIComponent(`dicomweb/pacs/${bStudy}/x;y`)}`, 400],
          [`/images?source=dicomweb/pacs/../x`, 400],
          [`/images?source=dicomweb/other`, 404],
        ] as const
      ) {
        const r = await get(s.url + path);
        assertEquals(r.status, status, `${path}: ${text(r.body)}`);
        assert(JSON.parse(text(r.body)).error.message, path);
      }
      // The series replaced (its largest level deleted): a new version, and every answer from the new one.
      const before = JSON.parse(text((await get(`${s.url}/images/${encodeURIComponent(web.cmu)}`)).body));
      const largest = cmu[0]; // level-00.dcm
      await orthanc.remove(largest);
      const after = JSON.parse(text((await get(`${s.url}/images/${encodeURIComponent(web.cmu)}`)).body));
      assert(after.version !== before.version, "a replaced series is a new version");
      assertEquals([after.width, after.height], [before.levels[1].width, before.levels[1].height]);
      const dzi = text((await get(`${s.url}/dzi/${encodeURIComponent(web.cmu)}.dzi`)).body);
      assert(dzi.includes(`Width="${after.width}"`), dzi);
    });
  } finally {
    await orthanc.close();
  }
});

Deno.test("WADO-RS frames: several in one request, in order, each as stored; batched per turn", opts, async () => {
  const orthanc = await startOrthanc();
  try {
    const [id] = await orthanc.upload([`${DATA}${BPAEC}/5_0`]);
    const [study, series] = await uidsOf(orthanc.rest, orthanc.authorization, id);
    const meta = await (await fetch(`${orthanc.rest}/instances/${id}/tags?simplify`, {
      headers: { Authorization: orthanc.authorization },
    })).json();
    const url = `${orthanc.dicomweb}/studies/${study}/series/${series}/instances/${meta.SOPInstanceUID}`;
    const policy = { allowedOrigins: [new URL(orthanc.rest).origin], timeoutMs: 30_000, maxBytes: 64 << 20 };
    const auth = { Authorization: orthanc.authorization };
    const frames = await fetchFrames(url, [3, 1, 2], policy, auth, 4 << 20);
    // pydicom's frames of the same file, as stored (the encapsulated fragments).
    const py = `import sys, pydicom
from pydicom.encaps import generate_pixel_data_frame
ds = pydicom.dcmread(sys.argv[1])
for f in generate_pixel_data_frame(ds.PixelData, int(ds.NumberOfFrames)):
    sys.stdout.write(f.hex() + "\\n")`;
    const out = await new Deno.Command("/usr/bin/python3", { args: ["-c", py, `${DATA}${BPAEC}/5_0`] }).output();
    assertEquals(out.code, 0, text(out.stderr));
    const ref = text(out.stdout).trim().split("\n");
    const hex = (f: StoredFrame) => Array.from(f.data, (b) => b.toString(16).padStart(2, "0")).join("");
    assertEquals(frames.map((f) => f.coding), ["jpeg", "jpeg", "jpeg"]);
    assertEquals(frames.map(hex), [ref[2], ref[0], ref[1]]);
    // A part over its bound is refused, not buffered.
    const big = await fetchFrames(url, [1], policy, auth, 100).then(() => null, (e) => e);
    assert(big && /exceeds|more than/.test(String(big.message)), String(big));
    // Frames asked for in one turn go out as one request (sorted); a second turn is another request.
    const asked: number[][] = [];
    const read = batchedFrames((numbers) => (asked.push(numbers), fetchFrames(url, numbers, policy, auth, 4 << 20)));
    const got = await Promise.all([read(2), read(0), read(1), read(0)]);
    assertEquals(asked, [[1, 2, 3]]);
    assertEquals(got.map(hex), [ref[2], ref[0], ref[1], ref[0]]);
    await read(1);
    assertEquals(asked.length, 2);
  } finally {
    await orthanc.close();
  }
});

Deno.test("a broken DICOMweb answer is a clear 502/413/504, never a hang or a crash", opts, async () => {
  const enc = new TextEncoder();
  const part = (body: string) =>
    `--B\r\nContent-Type: image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50\r\n\r\n${body}\r\n`;
  const answers: Record<string, () => Response> = {
    "/few": () =>
      new Response(part("a") + "--B--\r\n", { headers: { "content-type": 'multipart/related; boundary="B"' } }),
    "/garbled": () =>
      new Response("no boundary here", { headers: { "content-type": "multipart/related; boundary=B" } }),
    "/endless": () =>
      new Response(
        new ReadableStream({
          start: (c) => c.enqueue(enc.encode("--B\r\nContent-Type: image/jpeg\r\n\r\n")),
          pull: (c) => c.enqueue(enc.encode("x".repeat(65536))),
        }),
        { headers: { "content-type": "multipart/related; boundary=B" } },
      ),
    "/stalled": () =>
      new Response(new ReadableStream({ start: (c) => c.enqueue(enc.encode("--B\r\n")) }), {
        headers: { "content-type": "multipart/related; boundary=B" },
      }),
    "/syntax": () =>
      new Response(part("a").replace("4.50", "4.100") + "--B--\r\n", {
        headers: { "content-type": "multipart/related; boundary=B" },
      }),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname.replace(/\/frames\/.*$/, "");
    return (answers[path] ?? (() => new Response("", { status: 404 })))();
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const policy = { allowedOrigins: [base], timeoutMs: 2000, maxBytes: 1 << 20 };
    for (
      const [path, status, pattern] of [
        ["/few", 502, /1 parts for 2 frames/],
        ["/garbled", 502, /parts for 2 frames|malformed/],
        ["/endless", 413, /more than/],
        ["/stalled", 504, /time limit/],
        ["/syntax", 415, /transfer syntax 1\.2\.840\.10008\.1\.2\.4\.100/],
        ["/gone", 404, /no DICOMweb resource/],
      ] as const
    ) {
      const err = await fetchFrames(base + path, [1, 2], policy, {}, 1 << 20).then(() => null, (e) => e);
      assertEquals(err?.status, status, `${path}: ${err}`);
      assert(pattern.test(err.message), `${path}: ${err.message}`);
    }
  } finally {
    await server.shutdown();
  }
});
