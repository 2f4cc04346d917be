// How busy this process's event loop was: the saturation signal of an adaptive limit at a service's front door.

import { performance } from 'node:perf_hooks';

/**
 * A reading of Node's event-loop utilization (the share of time the loop ran code rather than waited, 0 to 1)
 * since the reading before; the first covers the time since this call.
 *
 * @example
 * const door = adaptiveLimit({ name: 'requests', saturation: eventLoopSaturation() });
 */
export function eventLoopSaturation(): () => number {
  let last = performance.eventLoopUtilization();
  return function readSaturation(): number {
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, last);
    last = now;
    return utilization;
  };
}
