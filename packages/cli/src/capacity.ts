// `headroom capacity`: the highest arrival rate at which a service still holds its SLO, by bisection over short
// open-model probes of a scenario's flows, judged by the same gate as `headroom load`; and, for a given peak, the
// instances to run with capacity planning's headroom: instances = ⌈peak ÷ capacity × headroom⌉ (1.5 by default).

import type { Spec } from '@headroom/core/slo';
import { runScenario } from './engine/run.ts';
import { judge, phaseNames } from './gate/judge.ts';
import type { OpenStage, Scenario } from './scenario/scenario.ts';

/** Options of {@link findCapacity}. */
export interface CapacityOptions {
  spec: Spec;
  /** The lowest rate worth trying, per second. */
  minRate: number;
  /** The highest rate to try, per second (probed first). */
  maxRate: number;
  /** How long each probe runs, in ms. */
  probeMs: number;
  /** Probes at most. */
  probes: number;
  /** Between probes, in ms (quotas and queues drain). */
  pauseMs: number;
  /** Sockets to the target. */
  connections?: number;
  /** Told of each probe as it ends. */
  onProbe?: (probe: CapacityProbe) => void;
  /** Waits `ms` between probes. @default a real timer */
  sleep?: (ms: number) => Promise<void>;
}

/** One probe: a rate run for a while, and whether the SLO held. */
export interface CapacityProbe {
  rate: number;
  achieved: number;
  dropped: number;
  held: boolean;
  /** The checks that failed (`GET /x p99`), or why the probe did not count. */
  failed: string[];
  /** Checks with too few samples to judge at this rate: not held against the service. */
  insufficient: string[];
}

export interface CapacityResult {
  /** The highest rate that held; undefined when not even the lowest did. */
  capacity: number | undefined;
  /** True when the highest rate tried held: the capacity is at least that. */
  atLeast: boolean;
  probes: CapacityProbe[];
}

/**
 * Bisects between `minRate` and `maxRate`: the highest rate first, then halves the interval between the
 * highest rate that held and the lowest that did not, until it is within 5% of the rate or the probes run out.
 * A probe holds when no check of the gate fails (checks without enough samples at that rate are not counted),
 * nothing was dropped and at least 99% of the arrivals were sent.
 *
 * @example
 * const { capacity } = await findCapacity(scenario, { spec, minRate: 10, maxRate: 2000, probeMs: 10_000, probes: 8, pauseMs: 2_000 });
 */
export async function findCapacity(scenario: Scenario, options: CapacityOptions): Promise<CapacityResult> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const probes: CapacityProbe[] = [];
  const routes = options.spec.objectives.map((o) => `${o.method} ${o.route}`);
  // The spec's phase budgets are judged on Server-Timing, which the engine reads only where it is asked to.
  const phases = phaseNames(options.spec);
  let lo = 0;
  let hi = Number.POSITIVE_INFINITY;
  let rate = options.maxRate;
  for (let i = 0; i < options.probes; i++) {
    if (i > 0) await sleep(options.pauseMs);
    const stage: OpenStage = { name: 'probe', durationMs: options.probeMs, judge: true, rate };
    const result = await runScenario(
      { ...scenario, model: 'open', stages: [stage], judgeThroughput: false },
      { routes, phases, ...(options.connections ? { connections: options.connections } : {}) },
    );
    const report = result.stages[0]!;
    const gate = judge(result, options.spec, { checkFailures: scenario.checkFailures });
    const failed: string[] = [];
    const insufficient: string[] = [];
    for (const route of gate.routes) {
      for (const check of route.checks) {
        const name = `${route.route} ${check.metric}`;
        if (check.verdict === 'fail') failed.push(name);
        else if (check.verdict === 'insufficient') insufficient.push(name);
      }
    }
    if (result.setupErrors.length > 0) failed.push(...result.setupErrors.map((e) => `setup: ${e}`));
    if (report.dropped > 0) failed.push(`${report.dropped} arrivals dropped by the generator`);
    if (report.iterations < report.targetRate! * (options.probeMs / 1000) * 0.99)
      failed.push(
        `sent ${report.iterations} of ${Math.round(report.targetRate! * (options.probeMs / 1000))}`,
      );
    const probe: CapacityProbe = {
      rate,
      achieved: report.achievedRate,
      dropped: report.dropped,
      held: failed.length === 0,
      failed,
      insufficient,
    };
    probes.push(probe);
    options.onProbe?.(probe);
    if (probe.held) lo = rate;
    else hi = rate;
    if (probe.held && rate === options.maxRate) break;
    if (rate === options.minRate && !probe.held) break;
    const next =
      lo === 0
        ? Math.max(options.minRate, rate / 2)
        : hi === Number.POSITIVE_INFINITY
          ? rate * 2
          : (lo + hi) / 2;
    const rounded = Math.max(options.minRate, Math.round(next));
    if (Number.isFinite(hi) && lo > 0 && hi - lo <= Math.max(1, 0.05 * lo)) break;
    if (probes.some((p) => p.rate === rounded)) break;
    rate = rounded;
  }
  return {
    capacity: lo > 0 ? lo : undefined,
    atLeast: lo === options.maxRate,
    probes,
  };
}

/**
 * Instances to run for `peak` requests a second when one holds `capacity`, with `headroom` to spare (capacity
 * planning's rule: peak ÷ per-instance capacity × 1.5).
 *
 * @example
 * instancesFor(10_000, 500); // 30
 */
export function instancesFor(peak: number, capacity: number, headroom = 1.5): number {
  return Math.ceil((peak / capacity) * headroom - 1e-9);
}
