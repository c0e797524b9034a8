/**
 * Private S3 objects as sources: an id `s3://bucket/key` names an object of a listed bucket, read by the
 * same guarded, pinned range requests as any remote file, each signed with AWS Signature Version 4 by npm
 * `aws4fetch` (the credentials go in headers only: never in the URL, the id, a cache key or an error).
 */
import { AwsClient } from "aws4fetch";
import { HttpError } from "../errors.ts";
import type { S3Credentials, S3Settings } from "./s3_settings.ts";

/** What signs requests to one store: plain data (it travels to workers inside the remote policy). */
export interface S3Signer extends S3Credentials {
  region: string;
  /** Requests to this origin are signed; no other request is. */
  origin: string;
}

/** True for an S3 object id. */
export const isS3Id = (id: string) => id.startsWith("s3://");

/** The store URL of `s3://bucket/key`: 400 for a malformed id, 403 for a bucket not in EDGETILE_S3_BUCKETS. */
export function s3ObjectUrl(id: string, s: S3Settings): URL {
  const m = /^s3:\/\/([^/?#]+)\/([^?#]+)$/.exec(id);
  if (!m) throw new HttpError(400, "bad_id", `an S3 id is s3://bucket/key, got ${JSON.stringify(id.slice(0, 200))}`);
  const [, bucket, key] = m;
  if (!s.buckets.includes(bucket)) {
    throw new HttpError(403, "forbidden_bucket", `bucket ${bucket} is not in EDGETILE_S3_BUCKETS`);
  }
  const path = key.split("/").map(encodeURIComponent).join("/");
  const url = new URL(s.endpoint);
  const base = url.pathname.replace(/\/$/, "");
  if (s.pathStyle) url.pathname = `${base}/${bucket}/${path}`;
  else {
    url.hostname = `${bucket}.${url.hostname}`;
    url.pathname = `${base}/${path}`;
  }
  return url;
}

/** The signer for requests to `url`'s origin, or undefined where requests go unsigned. */
export function s3Signer(url: URL, s: S3Settings): S3Signer | undefined {
  return s.credentials ? { ...s.credentials, region: s.region, origin: url.origin } : undefined;
}

/**
 * One client per credentials and region on this thread: aws4fetch keeps the day's derived signing key in its
 * client, so a client made per request derived it again (four HMACs) for every range read.
 */
const clients = new Map<string, AwsClient>();

function clientFor(signer: S3Signer): AwsClient {
  const id = [signer.accessKeyId, signer.secretAccessKey, signer.sessionToken ?? "", signer.region].join("\n");
  let client = clients.get(id);
  if (!client) {
    if (clients.size >= 16) clients.clear(); // rotated credentials: the old ones go
    client = new AwsClient({
      accessKeyId: signer.accessKeyId,
      secretAccessKey: signer.secretAccessKey,
      sessionToken: signer.sessionToken,
      service: "s3",
      region: signer.region,
    });
    clients.set(id, client);
  }
  return client;
}

/** `init` for `url`, signed (SigV4, service s3) with its headers: Range, If-Match and If-Range included. */
export async function signS3(url: URL, init: RequestInit, signer: S3Signer): Promise<Request> {
  return await clientFor(signer).sign(url.href, { method: init.method ?? "GET", headers: init.headers });
}
