/**
 * A real DICOMweb server for the tests: Debian's Orthanc with its DICOMweb plugin (`orthanc-dicomweb`),
 * started on 127.0.0.1 at a port of the test's choosing, storage in a temp folder, remote access off, the
 * DICOM port off, Basic authentication on; loaded with instances through its REST API.
 */
import { assert } from "./assert.ts";

const PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

/** A running Orthanc. */
export interface Orthanc {
  /** The DICOMweb root (`http://127.0.0.1:PORT/dicom-web`). */
  dicomweb: string;
  /** Its REST root. */
  rest: string;
  /** The Authorization header value it accepts. */
  authorization: string;
  /** Stores the DICOM files at `paths`; their Orthanc ids in order. */
  upload(paths: string[]): Promise<string[]>;
  /** Deletes an instance by its Orthanc id. */
  remove(orthancId: string): Promise<void>;
  /** Stops it and removes its storage. */
  close(): Promise<void>;
}

/** Starts Orthanc; throws (with its log) when it does not answer within a minute. */
export async function startOrthanc(): Promise<Orthanc> {
  assert(
    await Deno.stat(PLUGIN).then(() => true, () => false),
    `Debian's orthanc-dicomweb is not installed (${PLUGIN}); .ci/run installs it`,
  );
  const dir = await Deno.makeTempDir({ prefix: "edgetile-orthanc-" });
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const user = "edgetile", password = crypto.randomUUID();
  await Deno.writeTextFile(
    `${dir}/orthanc.json`,
    JSON.stringify({
      Name: "edgetile-test",
      StorageDirectory: `${dir}/db`,
      IndexDirectory: `${dir}/db`,
      HttpPort: port,
      DicomServerEnabled: false,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: true,
      RegisteredUsers: { [user]: password },
      Plugins: [PLUGIN],
      DicomWeb: { Enable: true, Root: "/dicom-web/" },
      HttpTimeout: 60,
    }),
  );
  const child = new Deno.Command("/usr/sbin/Orthanc", {
    args: [`${dir}/orthanc.json`],
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log = new Response(child.stderr).text();
  const rest = `http://127.0.0.1:${port}`;
  const authorization = `Basic ${btoa(`${user}:${password}`)}`;
  const headers = { Authorization: authorization };
  let up = false;
  for (let i = 0; i < 600 && !up; i++) {
    up = await fetch(`${rest}/system`, { headers }).then(async (r) => (await r.body?.cancel(), r.ok), () => false);
    if (!up) await new Promise((r) => setTimeout(r, 100));
  }
  if (!up) {
    child.kill("SIGKILL");
    throw new Error(`Orthanc did not start:\n${(await log).slice(-2000)}`);
  }
  return {
    dicomweb: `${rest}/dicom-web`,
    rest,
    authorization,
    async upload(paths) {
      const ids: string[] = [];
      for (const p of paths) {
        const r = await fetch(`${rest}/instances`, { method: "POST", headers, body: await Deno.readFile(p) });
        const body = await r.json();
        assert(r.ok, `Orthanc refused ${p}: ${JSON.stringify(body)}`);
        ids.push(body.ID);
      }
      return ids;
    },
    async remove(id) {
      const r = await fetch(`${rest}/instances/${id}`, { method: "DELETE", headers });
      await r.body?.cancel();
      assert(r.ok, `Orthanc did not delete ${id}: ${r.status}`);
    },
    async close() {
      child.kill("SIGTERM");
      await child.status;
      await log;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
