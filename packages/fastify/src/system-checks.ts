// The process's own health: event-loop delay and heap use, checked with every /health and /health/ready answer.
// Neither fails readiness (restarting a busy instance sheds its load onto the others); each warns past its limit.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { HealthCheck } from './health.ts';

/** Options of the process checks (the plugin's `health` option). */
export interface SystemCheckOptions {
  /** `eventloop:delay` warns when its p99 since the last check is over this many ms. @default 200 */
  eventLoopDelayWarn?: number;
  /** `memory:utilization` warns when the heap in use is over this share of V8's heap limit. @default 0.9 */
  memoryWarn?: number;
}

/**
 * Starts sampling the event loop's delay (20 ms resolution); `read()` gives the checks and starts a new window.
 *
 * @example
 * const system = systemChecks({ eventLoopDelayWarn: 100 });
 * const checks = { ...appChecks, ...system.read() };
 */
export function systemChecks(options: SystemCheckOptions = {}): {
  read(): Record<string, HealthCheck>;
  close(): void;
} {
  const delayWarn = options.eventLoopDelayWarn ?? 200;
  const memoryWarn = options.memoryWarn ?? 0.9;
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  return {
    read() {
      // Nanoseconds, less the sampling resolution itself; 0 before the first sample.
      const p99 = delay.count > 0 ? Math.max(0, delay.percentile(99) / 1e6 - 20) : 0;
      delay.reset();
      const heap = getHeapStatistics();
      const used = heap.used_heap_size / heap.heap_size_limit;
      return {
        'eventloop:delay': {
          status: p99 > delayWarn ? 'warn' : 'pass',
          componentType: 'system',
          observedValue: Math.round(p99 * 10) / 10,
          observedUnit: 'ms',
          ...(p99 > delayWarn
            ? { output: `p99 ${p99.toFixed(0)} ms since the last check (limit ${delayWarn} ms)` }
            : {}),
        },
        'memory:utilization': {
          status: used > memoryWarn ? 'warn' : 'pass',
          componentType: 'system',
          observedValue: Math.round(used * 1000) / 10,
          observedUnit: 'percent',
          ...(used > memoryWarn ? { output: `heap ${(used * 100).toFixed(0)}% of its limit` } : {}),
        },
      };
    },
    close() {
      delay.disable();
    },
  };
}
