/**
 * Objects of private stores — `s3://bucket/key` and `az://container/blob` — as remote files: the store URL
 * an id names and the policy its reads follow (the store's own origin allowed for the listed buckets, the
 * signer that authorizes each request). A store on a loopback or private address is reached only when
 * EDGETILE_ALLOWED_ORIGINS lists its origin, as for any remote source.
 */
import { HttpError } from "../errors.ts";
import { isSpecialAddress, type RemotePolicy } from "./remote.ts";
import { isS3Id, s3ObjectUrl, s3Signer } from "./s3.ts";
import { azureBlobUrl, type AzureSettings, azureSigner, isAzureId } from "./azure.ts";
import type { S3Settings } from "./s3_settings.ts";

/** True for an id of a private store. */
export const isStoreId = (id: string) => isS3Id(id) || isAzureId(id);

/** The URL of the object `id` names and the policy to read it by: 400, 403 where it may not be read. */
export function storeTarget(
  id: string,
  base: RemotePolicy,
  stores: { s3?: S3Settings; azure?: AzureSettings },
): { url: string; policy: RemotePolicy } {
  let url: URL, signer: Partial<RemotePolicy>;
  if (isS3Id(id)) {
    if (!stores.s3?.buckets.length) {
      throw new HttpError(403, "forbidden_bucket", "S3 sources are off (EDGETILE_S3_BUCKETS is empty)");
    }
    url = s3ObjectUrl(id, stores.s3);
    signer = { s3: s3Signer(url, stores.s3) };
  } else {
    if (!stores.azure?.containers.length) {
      throw new HttpError(403, "forbidden_bucket", "Azure sources are off (EDGETILE_AZURE_CONTAINERS is empty)");
    }
    url = azureBlobUrl(id, stores.azure);
    signer = { azure: azureSigner(url, stores.azure) };
  }
  const listed = base.allowedOrigins.includes(url.origin);
  if (!listed && isSpecialAddress(url.hostname)) {
    throw new HttpError(
      403,
      "forbidden_origin",
      `the store ${url.origin} is a private address not in EDGETILE_ALLOWED_ORIGINS`,
    );
  }
  const allowedOrigins = listed ? base.allowedOrigins : [...base.allowedOrigins, url.origin];
  return { url: url.href, policy: { ...base, allowedOrigins, ...signer } };
}
