/**
 * Private Azure Blob Storage objects as sources: an id `az://container/blob` names a blob of a listed
 * container, read by the same guarded, pinned range requests as any remote file. Each request carries a
 * read-only service SAS for that one blob, made from the account's Shared Key by `@azure/storage-blob`
 * (`generateBlobSASQueryParameters`, valid one hour, renewed ten minutes before its end), or the SAS
 * token given in the settings. The SAS is added to the request's URL at the moment of the fetch only:
 * never to an id, a cache key, a log line or an error.
 */
import { HttpError } from "../errors.ts";

/** The Azure variables read (beside the EDGETILE_* ones), under their own names. */
export const AZURE_VARIABLES = ["AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN"] as const;

/** How `az://container/blob` ids are read. Plain data (travels to workers inside the source descriptor). */
export interface AzureSettings {
  /** The containers that may be read; empty: Azure ids are refused. */
  containers: string[];
  /** The Blob service endpoint (`https://{account}.blob.core.windows.net`, or Azurite's `…/{account}`). */
  endpoint: string;
  account: string;
  /** The account's Shared Key (base64), or "". */
  key: string;
  /** A SAS token (`sv=…&sig=…`), or "". */
  sas: string;
}

/** What authorizes requests to one Blob endpoint: plain data (it travels inside the remote policy). */
export interface AzureSigner {
  /** Requests to this origin are authorized; no other request is. */
  origin: string;
  /** The endpoint's path (Azurite puts the account there): the container is the next segment. */
  base: string;
  account: string;
  key: string;
  sas: string;
}

/** The Azure settings from `EDGETILE_AZURE_CONTAINERS`, `EDGETILE_AZURE_ENDPOINT` and the AZURE_* variables. */
export function parseAzureSettings(
  containerList: string,
  rawEndpoint: string,
  env: Record<string, string | undefined>,
): AzureSettings {
  const containers = containerList.split(",").map((c) => c.trim()).filter(Boolean);
  for (const c of containers) {
    if (!/^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$/.test(c)) {
      throw new Error(`EDGETILE_AZURE_CONTAINERS: "${c}" is not a container name`);
    }
  }
  const account = env.AZURE_STORAGE_ACCOUNT ?? "";
  if (containers.length && !account) throw new Error("EDGETILE_AZURE_CONTAINERS needs AZURE_STORAGE_ACCOUNT");
  const raw = rawEndpoint || (account ? `https://${account}.blob.core.windows.net` : "");
  let endpoint = "";
  if (raw) {
    let url: URL | null = null;
    try {
      url = new URL(raw);
    } catch { /* reported below */ }
    if (!url || !/^https?:$/.test(url.protocol) || url.username || url.search) {
      throw new Error(`EDGETILE_AZURE_ENDPOINT must be http(s)://host[:port][/path], got "${raw}"`);
    }
    endpoint = url.href.replace(/\/$/, "");
  }
  return {
    containers,
    endpoint,
    account,
    key: env.AZURE_STORAGE_KEY ?? "",
    sas: (env.AZURE_STORAGE_SAS_TOKEN ?? "").replace(/^\?/, ""),
  };
}

/** True for an Azure blob id. */
export const isAzureId = (id: string) => id.startsWith("az://");

/** The blob URL of `az://container/blob`: 400 for a malformed id, 403 for an unlisted container. */
export function azureBlobUrl(id: string, s: AzureSettings): URL {
  const m = /^az:\/\/([^/?#]+)\/([^?#]+)$/.exec(id);
  if (!m) {
    throw new HttpError(400, "bad_id", `an Azure id is az://container/blob, got ${JSON.stringify(id.slice(0, 200))}`);
  }
  if (!s.containers.includes(m[1])) {
    throw new HttpError(403, "forbidden_bucket", `container ${m[1]} is not in EDGETILE_AZURE_CONTAINERS`);
  }
  return new URL(`${s.endpoint}/${m[1]}/${m[2].split("/").map(encodeURIComponent).join("/")}`);
}

/** The signer for requests to `url`'s origin, or undefined where requests go anonymous (a public container). */
export function azureSigner(url: URL, s: AzureSettings): AzureSigner | undefined {
  if (!s.key && !s.sas) return undefined;
  return {
    origin: url.origin,
    base: new URL(s.endpoint).pathname.replace(/\/$/, ""),
    account: s.account,
    key: s.key,
    sas: s.sas,
  };
}

/** Blob SAS tokens made on this thread, by blob URL, with the time they stop being used. */
const tokens = new Map<string, { sas: string; until: number }>();

/** `url` with a SAS for its blob: the settings' own, or a read-only one for this blob made from the key. */
export async function azureAuthorized(url: URL, signer: AzureSigner): Promise<URL> {
  let sas = signer.sas;
  if (signer.key) {
    const kept = tokens.get(url.href);
    if (kept && kept.until > Date.now()) sas = kept.sas;
    else {
      const { BlobSASPermissions, generateBlobSASQueryParameters, StorageSharedKeyCredential } = await import(
        "@azure/storage-blob"
      );
      const [containerName, ...blob] = url.pathname.slice(signer.base.length + 1).split("/");
      const expiresOn = new Date(Date.now() + 3600_000);
      sas = generateBlobSASQueryParameters(
        {
          containerName,
          blobName: blob.map(decodeURIComponent).join("/"),
          permissions: BlobSASPermissions.parse("r"),
          startsOn: new Date(Date.now() - 300_000),
          expiresOn,
        },
        new StorageSharedKeyCredential(signer.account, signer.key),
      ).toString();
      if (tokens.size > 4096) tokens.clear();
      tokens.set(url.href, { sas, until: expiresOn.getTime() - 600_000 });
    }
  }
  const out = new URL(url);
  out.search = sas;
  return out;
}
