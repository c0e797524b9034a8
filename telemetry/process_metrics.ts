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

/** What the process metrics read besides the runtime. */
export interface ProcessSources {
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
