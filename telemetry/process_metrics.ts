/**
 * Process and build metrics: memory (resident, heap, external), CPU seconds, start time, event-loop lag,
 * worker restarts, and `edgetile_build_info{version,deno}` (the version is `deno.json`'s).
 */
import process from "node:process";
import { Gauge, type Registry } from "prom-client";
import denoJson from "../deno.json" with { type: "json" };
import { observedCounter } from "./metrics.ts";

/** The service's version, from `deno.json`. */
export const VERSION: string = denoJson.version;

/** A thread's V8 memory: heap reserved and used, and external (ArrayBuffers and other native objects). */
export interface ThreadMemoryFigures {
  heapTotal: number;
  heapUsed: number;
  external: number;
}

/** What the process metrics read besides the runtime. */
export interface ProcessSources {
  /** Each pipeline worker's V8 memory, from its heartbeat (none without a pool). */
  workerMemory(): ThreadMemoryFigures[];
  /** Estimated bytes of the large jobs running, those refused, and workers recycled after large work. */
  largeWork(): { inFlightBytes: number; shed: number; recycles: number };
  /** Workers replaced after a crash or hang (0 without a pool). */
  workerRestarts(): number;
  /** Of those, workers ended because a job ran on after its request ended (0 without a pool). */
  workerAbandonKills(): number;
}

/** Registers the process metrics on `registry`; returns a stop function for the lag probe. */
export function watchProcess(registry: Registry, sources: ProcessSources): () => void {
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });
  const started = Date.now() / 1000;
  gauge("edgetile_process_heap_used_bytes", "V8 heap in use (main thread)", () => Deno.memoryUsage().heapUsed);
  gauge("edgetile_process_heap_total_bytes", "V8 heap reserved (main thread)", () => Deno.memoryUsage().heapTotal);
  gauge(
    "edgetile_process_external_bytes",
    "Memory of ArrayBuffers and other external objects",
    () => Deno.memoryUsage().external,
  );
  gauge("edgetile_process_start_time_seconds", "Start time of the process, Unix seconds", () => started);
  gauge("edgetile_process_uptime_seconds", "Seconds since the start", () => Date.now() / 1000 - started);
  observedCounter(registry, "edgetile_process_cpu_seconds_total", "CPU time of the process (user + system)", () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  });
  observedCounter(
    registry,
    "edgetile_worker_restarts_total",
    "Pipeline workers replaced after a crash or a hung job",
    sources.workerRestarts,
  );
  observedCounter(
    registry,
    "edgetile_worker_abandoned_kills_total",
    "Pipeline workers ended because a job ran on past the end of its request (its client left or its time ran out)",
    sources.workerAbandonKills,
  );
  // Memory accounting: every thread's heaps and external memory, and what none of them explains (the
  // allocator's arenas and free lists, WebAssembly memories, the runtime's own buffers): RSS minus the rest.
  const workerGauge = (name: string, help: string, pick: (m: ThreadMemoryFigures) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["worker"],
      registers: [registry],
      collect() {
        this.reset();
        sources.workerMemory().forEach((m, i) => this.set({ worker: String(i) }, pick(m)));
      },
    });
  workerGauge("edgetile_worker_heap_total_bytes", "V8 heap reserved by each pipeline worker", (m) => m.heapTotal);
  workerGauge("edgetile_worker_heap_used_bytes", "V8 heap in use by each pipeline worker", (m) => m.heapUsed);
  workerGauge(
    "edgetile_worker_external_bytes",
    "ArrayBuffers and other external memory of each worker",
    (m) => m.external,
  );
  gauge(
    "edgetile_process_unaccounted_bytes",
    "RSS not held by any thread's V8 heap or external memory: allocator arenas, WebAssembly memories, runtime",
    () => {
      const main = Deno.memoryUsage();
      const workers = sources.workerMemory().reduce((a, m) => a + m.heapTotal + m.external, 0);
      return Math.max(0, main.rss - main.heapTotal - main.external - workers);
    },
  );
  gauge(
    "edgetile_large_work_bytes",
    "Estimated peak bytes of the large jobs running now",
    () => sources.largeWork().inFlightBytes,
  );
  observedCounter(
    registry,
    "edgetile_large_work_shed_total",
    "Large jobs refused (503) because too much large work already waited",
    () => sources.largeWork().shed,
  );
  observedCounter(
    registry,
    "edgetile_worker_recycles_total",
    "Workers replaced once idle after large work, so that their memory goes back to the system",
    () => sources.largeWork().recycles,
  );
  new Gauge({
    name: "edgetile_build_info",
    help: "The running build: version (deno.json) and Deno version",
    labelNames: ["version", "deno"],
    registers: [registry],
  }).set({ version: VERSION, deno: Deno.version.deno }, 1);
  // Event-loop lag: how late a 500 ms timer fires; the worst in the last 10 s is reported.
  let worst = 0, recent: number[] = [];
  let expected = performance.now() + 500;
  const timer = setInterval(() => {
    const now = performance.now();
    recent.push(Math.max(0, now - expected));
    if (recent.length > 20) recent = recent.slice(-20);
    worst = Math.max(...recent);
    expected = now + 500;
  }, 500);
  Deno.unrefTimer(timer);
  gauge(
    "edgetile_event_loop_lag_seconds",
    "Worst event-loop delay of the main thread in the last 10 s",
    () => worst / 1000,
  );
  return () => clearInterval(timer);
}
