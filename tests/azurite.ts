/**
 * A real Azure Blob endpoint for the tests: Azurite (npm `azurite`, its blob service), run by Deno from the
 * npm registry outside this project's config and lock, on a free loopback port with a temp folder, telemetry
 * off. Its well-known development account checks Shared Key and SAS signatures; containers are private.
 */
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";

/** Azurite's development account and its published key. */
export const ACCOUNT = "devstoreaccount1";
export const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/** A running Azurite blob service. */
export interface TestAzurite {
  /** The Blob endpoint (`http://127.0.0.1:{port}/devstoreaccount1`). */
  endpoint: string;
  /** Creates `container` (private) and uploads each blob. */
  put(container: string, blobs: Record<string, Uint8Array>): Promise<void>;
  stop(): Promise<void>;
}

/** Starts Azurite and waits until it answers (180 s: the first run fetches the package). */
export async function startAzurite(): Promise<TestAzurite> {
  const dir = await Deno.makeTempDir({ prefix: "edgetile-azurite-" });
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-config",
      "--no-lock",
      "npm:azurite@3.37.0/azurite-blob",
      ...["--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", `${dir}/data`],
      ...["--silent", "--disableTelemetry", "--skipApiVersionCheck", "--loose"],
    ],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const endpoint = `http://127.0.0.1:${port}/${ACCOUNT}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  for (let i = 0;; i++) {
    const up = await fetch(`${endpoint}?comp=list`).then(async (r) => (await r.body?.cancel(), true), () => false);
    if (up) break;
    if (i > 1800) {
      await stop();
      throw new Error("Azurite did not start");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(ACCOUNT, KEY));
  return {
    endpoint,
    put: async (container, blobs) => {
      const c = service.getContainerClient(container);
      await c.createIfNotExists();
      for (const [name, bytes] of Object.entries(blobs)) await c.getBlockBlobClient(name).uploadData(bytes);
    },
    stop,
  };
}

/** A read-only SAS token for `container` of the development account, valid an hour. */
export function containerSas(container: string): string {
  return generateBlobSASQueryParameters(
    {
      containerName: container,
      permissions: BlobSASPermissions.parse("r"),
      expiresOn: new Date(Date.now() + 3600_000),
    },
    new StorageSharedKeyCredential(ACCOUNT, KEY),
  ).toString();
}
