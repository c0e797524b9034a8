/** HTTP-facing errors: every failure the service reports has a status, a stable code and a message. */

/** An error that maps to one HTTP status and a JSON body `{ error: { status, code, message } }`. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = "HttpError";
  }

  /** The JSON body sent for this error. */
  toJSON(): { error: { status: number; code: string; message: string } } {
    return { error: { status: this.status, code: this.code, message: this.message } };
  }
}

/** 400: the request is malformed. */
export const badRequest = (message: string) => new HttpError(400, "bad_request", message);
/** 404: no such image, level or tile. */
export const notFound = (message: string) => new HttpError(404, "not_found", message);
/** 413: a size limit was exceeded. */
export const tooLarge = (message: string) => new HttpError(413, "too_large", message);
/** 415: the source is in a format or compression the service does not read. */
export const unsupportedSource = (message: string) => new HttpError(415, "unsupported_source", message);
/** 422: the source is corrupt or truncated. */
export const corruptSource = (message: string) => new HttpError(422, "corrupt_source", message);
/** 501: a feature the service does not implement. */
export const notImplemented = (message: string) => new HttpError(501, "not_implemented", message);

/** A plain, structured-clone-safe form of an error, for crossing a worker boundary. */
export interface ErrorShape {
  status: number;
  code: string;
  message: string;
}

/**
 * Any thrown value as an `HttpError`. Errors that are not `HttpError`s are reported as a corrupt source
 * (422) when they come from reading a source, and as 500 otherwise — without a stack trace.
 */
export function toHttpError(err: unknown, fallback: "source" | "internal" = "internal"): HttpError {
  if (err instanceof HttpError) return err;
  if (isErrorShape(err)) return new HttpError(err.status, err.code, err.message);
  const message = err instanceof Error ? err.message : String(err);
  if (fallback === "source") return corruptSource(`cannot read the source: ${message}`);
  return new HttpError(500, "internal", "internal error");
}

/** The plain form of an error (for `postMessage`). */
export function toErrorShape(err: HttpError): ErrorShape {
  return { status: err.status, code: err.code, message: err.message };
}

function isErrorShape(v: unknown): v is ErrorShape {
  return typeof v === "object" && v !== null && typeof (v as ErrorShape).status === "number" &&
    typeof (v as ErrorShape).code === "string" && typeof (v as ErrorShape).message === "string";
}
