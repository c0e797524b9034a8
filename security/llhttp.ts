/**
 * The runtime's HTTP/1.1 parser, typed: llhttp as Deno ships it for Node compatibility (`node:_http_common`'s
 * `HTTPParser`, the parser Node's own server uses). The connection guard frames responses and reads the heads
 * it may answer itself with it instead of a parser of its own.
 */
import { HTTPParser } from "node:_http_common";

/** One llhttp parser (Node's internal binding API: callbacks are set by their numeric keys). */
export interface Llhttp {
  initialize(type: number, resource: object): void;
  execute(b: Uint8Array): number | Error;
  [k: number]: unknown;
}

/** The parser's constructor, its modes and callback keys. */
export const Llhttp = HTTPParser as unknown as {
  new (): Llhttp;
  REQUEST: number;
  RESPONSE: number;
  kOnHeadersComplete: number;
  kOnHeaders: number;
  kOnMessageComplete: number;
};
