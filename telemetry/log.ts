/**
 * The service's log: one line per event on stdout (errors and warnings on stderr), as text or JSON
 * (`EDGETILE_LOG_FORMAT`), filtered by level (`EDGETILE_LOG_LEVEL`). One logger per thread, configured once
 * at start (workers get the settings in their init message).
 */

/** Levels from the most to the least verbose; `off` silences everything. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "off"] as const;
/** A log level. */
export type LogLevel = typeof LOG_LEVELS[number];
/** Line formats. */
export type LogFormat = "text" | "json";

/** Fields of a log line besides its message. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** What the access log says of a request. */
export interface AccessFields extends LogFields {
  method: string;
  /** Path and query as requested. */
  path: string;
  status: number;
  /** Body bytes sent (0 for HEAD). */
  bytes: number;
  /** Milliseconds to the response head; for a streamed body, to its end. */
  ms: number;
}

/** How lines are written: the two streams, replaceable in tests. */
export interface LogSink {
  out(line: string): void;
  err(line: string): void;
}

/**
 * The process's streams. Info and debug lines are batched (written every 100 ms or per 64 KiB, and at exit):
 * one write per batch instead of one per request, which cost 15–20 % of cached-tile throughput. Warnings and
 * errors are written at once.
 */
class StdioSink implements LogSink {
  #pending: string[] = [];
  #size = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #enc = new TextEncoder();
  constructor() {
    globalThis.addEventListener?.("unload", () => this.flush());
  }
  out(line: string) {
    this.#pending.push(line);
    this.#size += line.length + 1;
    if (this.#size >= 65536) this.flush();
    else if (this.#timer === undefined) {
      const timer = this.#timer = setTimeout(() => this.flush(), 100);
      Deno.unrefTimer(timer);
    }
  }
  err(line: string) {
    this.flush();
    writeAll(Deno.stderr, this.#enc.encode(line + "\n"));
  }
  /** Writes what is pending. */
  flush() {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#pending.length) return;
    const text = this.#pending.join("\n") + "\n";
    this.#pending = [];
    this.#size = 0;
    writeAll(Deno.stdout, this.#enc.encode(text));
  }
}

/** Writes every byte (a pipe may take part of a write). */
function writeAll(stream: { writeSync(p: Uint8Array): number }, bytes: Uint8Array) {
  try {
    for (let at = 0; at < bytes.length;) at += stream.writeSync(bytes.subarray(at));
  } catch {
    // A closed stream (the reader went away): nothing to log to.
  }
}

const stdio = new StdioSink();

/** Writes the lines still batched (the drain calls it before exiting; `unload` does too). */
export function flushLog() {
  stdio.flush();
}

const consoleSink: LogSink = stdio;

/** A text line's level word. */
const LEVEL_TEXT = { debug: "DEBUG", info: "INFO", warn: "WARN", error: "ERROR" } as const;
/** A text value that must be quoted. */
const NEEDS_QUOTES = /[\s"=]/;

/** A level-filtered logger writing text or JSON lines. */
export class Logger {
  #min: number;
  constructor(readonly level: LogLevel = "info", readonly format: LogFormat = "text", private sink = consoleSink) {
    this.#min = LOG_LEVELS.indexOf(level);
  }

  /** Whether lines of `level` are written. */
  enabled(level: Exclude<LogLevel, "off">): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#min;
  }

  /** Writes one line at `level`: `time LEVEL message k=v …` or `{"time","level","msg",…fields}`. */
  write(level: Exclude<LogLevel, "off">, msg: string, fields: LogFields = {}, now = new Date()) {
    if (!this.enabled(level)) return;
    const time = this.#iso(now);
    let line: string;
    if (this.format === "json") {
      line = JSON.stringify({ time, level, msg, ...fields });
    } else {
      // Built in place (one line a request on the hot path): no intermediate arrays.
      line = `${time} ${LEVEL_TEXT[level]} ${msg}`;
      for (const k in fields) {
        const v = fields[k];
        if (v === undefined || v === null || v === "") continue;
        line += ` ${k}=${typeof v === "string" && NEEDS_QUOTES.test(v) ? JSON.stringify(v) : v}`;
      }
    }
    if (level === "warn" || level === "error") this.sink.err(line);
    else this.sink.out(line);
  }

  #lastMs = NaN;
  #lastIso = "";
  /** `now` as ISO 8601, made once per millisecond. */
  #iso(now: Date): string {
    const ms = now.getTime();
    if (ms !== this.#lastMs) [this.#lastMs, this.#lastIso] = [ms, now.toISOString()];
    return this.#lastIso;
  }

  /**
   * The access-log line of one request (level info): text `time INFO GET /path 200 6310 B 12.2 ms k=v …`,
   * JSON `{"time","level":"info","msg":"request","method","path","status","bytes","ms",…}`.
   */
  access(fields: AccessFields, now = new Date()) {
    if (!this.enabled("info")) return;
    if (this.format === "json") return this.write("info", "request", { ...fields }, now);
    const { method, path, status, bytes, ms, ...rest } = fields;
    this.write("info", `${method} ${path} ${status} ${bytes} B ${ms} ms`, rest, now);
  }

  /** Debug line. */
  debug(msg: string, fields?: LogFields) {
    this.write("debug", msg, fields);
  }
  /** Info line. */
  info(msg: string, fields?: LogFields) {
    this.write("info", msg, fields);
  }
  /** Warning line (stderr). */
  warn(msg: string, fields?: LogFields) {
    this.write("warn", msg, fields);
  }
  /** Error line (stderr). */
  error(msg: string, fields?: LogFields) {
    this.write("error", msg, fields);
  }
}

let current = new Logger();

/** This thread's logger. */
export function log(): Logger {
  return current;
}

/** Sets this thread's logger (at start, from the settings; tests pass a sink). */
export function configureLog(level: LogLevel, format: LogFormat, sink?: LogSink): Logger {
  current = new Logger(level, format, sink);
  return current;
}

/** An error's message and, for unexpected errors, its stack, as one field. */
export function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
