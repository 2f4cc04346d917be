// The app's SLO degrader, as the plugin serves it: `app.headroom.degrader.add(degrader)` feeds it every answer of
// the routes its rules watch, counts its actions in /metrics, shows its state in /health (a warning while it holds
// features off: degraded, still serving) and in the admin API, and starts it (stopped at close).

import type { Degrader } from '@headroom/core/slo';
import { Gauge, type Registry } from 'prom-client';
import type { HealthCheck } from './health.ts';
import type { RouteWatch } from './http-metrics.ts';
import { CounterFamily } from './metric-series.ts';

/**
 * What `app.headroom.degrader` offers.
 *
 * @example
 * app.headroom.degrader.add(createDegrader({ rules, target: flags, clock }));
 */
export interface DegraderRegistry {
  /** Watches the rules' routes, starts the degrader, and reports it (metrics, health, admin). Returns it. */
  add(degrader: Degrader): Degrader;
  readonly degrader: Degrader | undefined;
  /** `degrader:state`: `warn` while any rule holds features off. */
  checks(): Record<string, HealthCheck>;
}

const states = ['normal', 'breaching', 'degraded', 'recovering'] as const;

/**
 * Registers `headroom_degrader_actions_total{rule,action}` and `headroom_degrader_state{rule,state}`.
 *
 * @example
 * const degrader = createDegraderRegistry(registry, watch);
 */
export function createDegraderRegistry(registry: Registry, watch: RouteWatch): DegraderRegistry {
  let tracked: Degrader | undefined;
  const actions = new CounterFamily({
    name: 'headroom_degrader_actions_total',
    help: 'What the SLO degrader did, by rule: degrade (features off) or restore (back on).',
    labelNames: ['rule', 'action'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'headroom_degrader_state',
    help: 'Where each degrader rule stands: 1 for its current state (normal, breaching, degraded, recovering).',
    labelNames: ['rule', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const rule of tracked?.states() ?? []) {
        for (const state of states) this.set({ rule: rule.rule, state }, rule.state === state ? 1 : 0);
      }
    },
  });
  return {
    get degrader() {
      return tracked;
    },
    add(degrader) {
      tracked = degrader;
      watch.observer = (method, template) => degrader.observer(method, template);
      watch.version++;
      degrader.onAction((e) => actions.labels(e.rule, e.action).inc());
      degrader.start();
      return degrader;
    },
    checks(): Record<string, HealthCheck> {
      if (!tracked) return {};
      const holding = tracked.states().filter((s) => s.state === 'degraded' || s.state === 'recovering');
      if (holding.length === 0) return { 'degrader:state': { status: 'pass' } };
      const output = holding.map((s) => `${s.rule} (${s.state}): ${s.features.join(', ')} off`).join('; ');
      return { 'degrader:state': { status: 'warn', output } };
    },
  };
}
