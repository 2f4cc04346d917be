// The SLO-driven degrader: watches a route's objective in sliding windows and, when it is breached for long
// enough, turns features off (through the flags' degrader channel, so an operator's override still wins); it
// turns them back on once the route has been comfortably within budget for long enough, never sooner than a
// minimum hold. Hysteresis (restore only under a fraction of the budget) and the hold keep it from flapping.

import type { Clock, Timer } from '../clock/index.ts';
import { invalidOption } from '../errors/index.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkNumber } from '../shared/options.ts';
import type { DegradeSource, SloReading } from './prometheus-source.ts';
import { SliWindow } from './sli-window.ts';
import { matchesStatus, type Objective, type Percentile, quantileOf, type StatusPattern } from './spec.ts';

/** Where the degrader turns features off and on: `@headroom/core/flags`' degrader channel fits. */
export interface DegradeTarget {
  degrade(feature: string, change: { by: string; reason: string }): void;
  restore(feature: string, change: { by: string; reason: string }): void;
}

/** A rule, as written in headroom.yaml's `degrade` (durations in ms once loaded). */
export interface DegradeRule {
  name: string;
  /** The objective whose latency budgets and error budget are watched. */
  objective: Objective;
  /** Features turned off while the rule holds. */
  features: readonly string[];
  /** The objective's latency percentiles watched. @default every one it sets */
  percentiles?: readonly Percentile[];
  /** The objective breached for this long turns the features off. @default 30_000 */
  breachFor?: number;
  /** Restored once every watched percentile stays under this share of its budget… @default 0.8 */
  restoreBelow?: number;
  /** …for this long. @default 120_000 */
  restoreFor?: number;
  /** The features stay off at least this long. @default restoreFor */
  minHold?: number;
  /** Each verdict reads this much of the recent past. @default 10_000 */
  window?: number;
  /** Fewer requests than this in the window give no verdict. @default 20 */
  minSamples?: number;
}

/** Where a rule stands. */
export type DegradeState = 'normal' | 'breaching' | 'degraded' | 'recovering';

/** One rule's state, for health, metrics and the admin API. */
export interface DegradeRuleState {
  rule: string;
  route: string;
  state: DegradeState;
  /** Since when (ms, the clock's `now`) it is in that state. */
  since: number;
  features: readonly string[];
  /**
   * The last verdict's reading: requests, the error ratio, and per watched percentile the share slower than its
   * budget (in-process) or the percentile itself in ms (`latency`, from a source such as Prometheus).
   */
  reading: {
    total: number;
    errorRatio: number;
    overBudget: Record<string, number>;
    latency?: Partial<Record<Percentile, number>>;
  };
  /** Where the reading came from: `process` (this process's window) or the source's name. */
  source: string;
  /** Why the source could not be read at the last verdict (the rule then stayed where it stood). */
  sourceError?: string;
}

/** An action the degrader took. */
export interface DegradeAction {
  rule: string;
  action: 'degrade' | 'restore';
  features: readonly string[];
  reason: string;
  at: number;
}

interface Watched {
  rule: Required<Omit<DegradeRule, 'objective' | 'percentiles'>> & { objective: Objective };
  /** Per watched percentile: its name, its budget (ms) and the share of requests allowed over it. */
  budgets: { name: Percentile; budget: number; allowed: number }[];
  window: SliWindow;
  statuses: readonly StatusPattern[];
  errorRatio: number | undefined;
  state: DegradeState;
  since: number;
  /** Since when the condition that moves it on has held. */
  holding: number | undefined;
  degradedAt: number;
  reading: DegradeRuleState['reading'];
  sourceError: string | undefined;
}

/** What one verdict reads (requests, error ratio, latency), whether a budget is breached, whether all are comfortable. */
interface Verdict {
  breached: boolean;
  comfortable: boolean;
  reading: DegradeRuleState['reading'];
}

/**
 * The degrader; create it with `createDegrader(options)`, feed it with `observer(method, route)` per route, and
 * `start()` it (or call `evaluate()` yourself).
 *
 * @example
 * const degrader = createDegrader({ rules, target: flags, clock });
 * const observe = degrader.observer('GET', '/v1/cases/search'); // undefined for routes no rule watches
 * observe?.(ms, statusCode);
 */
export class Degrader {
  readonly #watched: Watched[];
  readonly #byRoute = new Map<string, Watched[]>();
  readonly #target: DegradeTarget;
  readonly #clock: Clock;
  readonly #interval: number;
  readonly #source: DegradeSource | undefined;
  #refreshing: Promise<void> | undefined;
  /** Rules holding each feature off: a feature comes back when the last one lets go. */
  readonly #holders = new Map<string, Set<string>>();
  readonly #acted = new Emitter<DegradeAction>();
  #timer: Timer | undefined;
  /** Subscribes to every action (degrade, restore). */
  readonly onAction: Subscribe<DegradeAction> = this.#acted.subscribe;

  constructor(options: {
    rules: readonly DegradeRule[];
    target: DegradeTarget;
    clock: Clock;
    interval?: number;
    source?: DegradeSource;
  }) {
    this.#target = options.target;
    this.#source = options.source;
    this.#clock = options.clock;
    this.#interval = checkNumber('degrader', 'interval', options.interval ?? 1_000, { min: 1 });
    const names = new Set<string>();
    this.#watched = options.rules.map((given) => {
      if (names.has(given.name))
        throw invalidOption('degrader', 'rules', 'rules with distinct names', given.name);
      names.add(given.name);
      const rule = {
        ...given,
        breachFor: checkNumber('degrader', 'breachFor', given.breachFor ?? 30_000, { min: 0 }),
        restoreBelow: checkNumber('degrader', 'restoreBelow', given.restoreBelow ?? 0.8, { min: 0, max: 1 }),
        restoreFor: checkNumber('degrader', 'restoreFor', given.restoreFor ?? 120_000, { min: 0 }),
        minHold: checkNumber('degrader', 'minHold', given.minHold ?? given.restoreFor ?? 120_000, { min: 0 }),
        window: checkNumber('degrader', 'window', given.window ?? 10_000, { min: 1_000 }),
        minSamples: checkNumber('degrader', 'minSamples', given.minSamples ?? 20, { min: 1, integer: true }),
      };
      if (rule.features.length === 0)
        throw invalidOption('degrader', 'features', 'at least one feature', given.name);
      const latency = (Object.entries(given.objective.latency) as [Percentile, number][]).filter(
        ([name]) => given.percentiles === undefined || given.percentiles.includes(name),
      );
      // Two thresholds per watched percentile: its budget (breach) and restoreBelow of it (restore).
      const thresholds = latency.flatMap(([, budget]) => [budget, budget * rule.restoreBelow]);
      const watched: Watched = {
        rule,
        budgets: latency.map(([name, budget]) => ({ name, budget, allowed: 1 - quantileOf(name) })),
        window: new SliWindow(thresholds, rule.window / 1000, options.clock),
        statuses: given.objective.errors?.statuses ?? ['5xx'],
        errorRatio: given.objective.errors?.value,
        state: 'normal',
        since: options.clock.now(),
        holding: undefined,
        degradedAt: 0,
        reading: { total: 0, errorRatio: 0, overBudget: {} },
        sourceError: undefined,
      };
      const key = `${given.objective.method} ${given.objective.route}`;
      this.#byRoute.set(key, [...(this.#byRoute.get(key) ?? []), watched]);
      return watched;
    });
  }

  /**
   * What to call with each answer of `method route` (its duration in ms and status), or undefined when no rule
   * watches the route: routes nobody watches cost nothing.
   */
  observer(method: string, route: string): ((ms: number, status: number) => void) | undefined {
    if (this.#source) return undefined; // the source reads every instance's answers, this one's among them
    const watched = this.#byRoute.get(`${method} ${route}`);
    if (!watched) return undefined;
    return (ms, status) => {
      for (const w of watched)
        w.window.observe(
          ms,
          w.statuses.some((pattern) => matchesStatus(pattern, status)),
        );
    };
  }

  /** Judges every rule once from this process's windows: what the timer of `start()` does every `interval`. */
  evaluate(): void {
    const now = this.#clock.now();
    for (const w of this.#watched) this.#move(w, now, this.#fromWindow(w));
  }

  /**
   * With a `source`: reads every rule from it, then judges each (what the timer of `start()` does). A rule whose
   * reading fails stays where it stands (a source that is down neither degrades nor restores anything), and its
   * state says why. Without a source it is `evaluate()`.
   */
  refresh(): Promise<void> {
    const source = this.#source;
    if (!source) {
      this.evaluate();
      return Promise.resolve();
    }
    this.#refreshing ??= Promise.all(
      this.#watched.map(async (w) => {
        let reading: SloReading;
        try {
          reading = await source.read({
            method: w.rule.objective.method,
            route: w.rule.objective.route,
            window: w.rule.window,
            percentiles: w.budgets.map((b) => b.name),
            statuses: w.statuses,
          });
        } catch (error) {
          w.sourceError = error instanceof Error ? error.message : String(error);
          return;
        }
        w.sourceError = undefined;
        this.#move(w, this.#clock.now(), this.#fromSource(w, reading));
      }),
    )
      .then(() => {}) // a rule's read failing is recorded on the rule; nothing else rejects
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }

  /** Evaluates every `interval` ms until `stop()`. */
  start(): void {
    if (this.#timer) return;
    const tick = () => {
      if (this.#source) {
        void this.refresh().finally(() => {
          if (this.#timer) this.#timer = this.#clock.setTimeout(tick, this.#interval);
        });
      } else {
        this.evaluate();
        this.#timer = this.#clock.setTimeout(tick, this.#interval);
      }
    };
    this.#timer = this.#clock.setTimeout(tick, this.#interval);
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /**
   * Changes the timings of rule `name` (a config reload): from the next evaluation, its state kept. Throws for an
   * unknown rule or an invalid value, changing nothing. The window and `restoreBelow` shape the rule's counters:
   * they change with the spec, not here.
   *
   * @example
   * degrader.tune('search-slow', { breachFor: 10_000, restoreFor: 60_000 });
   */
  tune(name: string, timings: Pick<DegradeRule, 'breachFor' | 'restoreFor' | 'minHold'>): void {
    const w = this.#watched.find((x) => x.rule.name === name);
    if (!w) throw invalidOption('degrader.tune', 'name', 'the name of a rule', name);
    const breachFor = checkNumber('degrader.tune', 'breachFor', timings.breachFor ?? w.rule.breachFor, {
      min: 0,
    });
    const restoreFor = checkNumber('degrader.tune', 'restoreFor', timings.restoreFor ?? w.rule.restoreFor, {
      min: 0,
    });
    const minHold = checkNumber('degrader.tune', 'minHold', timings.minHold ?? w.rule.minHold, { min: 0 });
    w.rule = { ...w.rule, breachFor, restoreFor, minHold };
  }

  /** Every rule's state. */
  states(): DegradeRuleState[] {
    return this.#watched.map((w) => ({
      rule: w.rule.name,
      route: `${w.rule.objective.method} ${w.rule.objective.route}`,
      state: w.state,
      since: w.since,
      features: w.rule.features,
      reading: w.reading,
      source: this.#source?.name ?? 'process',
      ...(w.sourceError === undefined ? {} : { sourceError: w.sourceError }),
    }));
  }

  /** True while any rule holds features off. */
  get degraded(): boolean {
    return this.#watched.some((w) => w.state === 'degraded' || w.state === 'recovering');
  }

  // The verdict of this process's window: the share of requests over each budget against the share allowed.
  #fromWindow(w: Watched): Verdict {
    const { rule } = w;
    const r = w.window.read(rule.window);
    const overBudget: Record<string, number> = {};
    let breached = false;
    let comfortable = true;
    w.budgets.forEach(({ name, allowed }, i) => {
      const over = r.total === 0 ? 0 : r.over[2 * i]! / r.total;
      const overRestore = r.total === 0 ? 0 : r.over[2 * i + 1]! / r.total;
      overBudget[name] = Math.round(over * 10_000) / 10_000;
      if (over > allowed) breached = true;
      if (overRestore > allowed) comfortable = false;
    });
    const errorRatio = r.total === 0 ? 0 : r.failed / r.total;
    return {
      breached,
      comfortable,
      reading: { total: r.total, errorRatio, overBudget },
    };
  }

  // The verdict of a source's reading: each percentile against its budget, and restoreBelow of it.
  #fromSource(w: Watched, r: SloReading): Verdict {
    let breached = false;
    let comfortable = true;
    for (const { name, budget } of w.budgets) {
      const ms = r.latency[name];
      if (ms === undefined) continue;
      if (ms > budget) breached = true;
      if (ms > budget * w.rule.restoreBelow) comfortable = false;
    }
    return {
      breached,
      comfortable,
      reading: { total: r.total, errorRatio: r.errorRatio, overBudget: {}, latency: r.latency },
    };
  }

  #move(w: Watched, now: number, verdict: Verdict): void {
    const { rule } = w;
    let { breached, comfortable } = verdict;
    const { total, errorRatio } = verdict.reading;
    if (w.errorRatio !== undefined) {
      if (errorRatio > w.errorRatio) breached = true;
      if (errorRatio > w.errorRatio * rule.restoreBelow) comfortable = false;
    }
    w.reading = { ...verdict.reading, errorRatio: Math.round(errorRatio * 10_000) / 10_000 };
    // Too few requests to judge: no breach; and nothing stands in the way of a restore.
    if (total < rule.minSamples) {
      breached = false;
      comfortable = true;
    }
    const move = (state: DegradeState) => {
      if (w.state !== state) {
        w.state = state;
        w.since = now;
      }
    };
    if (w.state === 'normal' || w.state === 'breaching') {
      if (!breached) {
        w.holding = undefined;
        move('normal');
        return;
      }
      w.holding ??= now;
      move('breaching');
      if (now - w.holding < rule.breachFor) return;
      w.holding = undefined;
      w.degradedAt = now;
      move('degraded');
      this.#act(w, 'degrade', `${describe(w)} breached for ${Math.round(rule.breachFor / 1000)} s`, now);
      return;
    }
    // degraded or recovering
    if (!comfortable) {
      w.holding = undefined;
      move('degraded');
      return;
    }
    w.holding ??= now;
    move('recovering');
    if (now - w.holding < rule.restoreFor || now - w.degradedAt < rule.minHold) return;
    w.holding = undefined;
    move('normal');
    this.#act(
      w,
      'restore',
      `${describe(w)} under ${Math.round(rule.restoreBelow * 100)}% of budget for ${Math.round(rule.restoreFor / 1000)} s`,
      now,
    );
  }

  #act(w: Watched, action: 'degrade' | 'restore', reason: string, at: number): void {
    const change = { by: `degrader:${w.rule.name}`, reason };
    for (const feature of w.rule.features) {
      const holders = this.#holders.get(feature) ?? new Set<string>();
      this.#holders.set(feature, holders);
      if (action === 'degrade') {
        if (holders.size === 0) this.#target.degrade(feature, change);
        holders.add(w.rule.name);
      } else {
        holders.delete(w.rule.name);
        if (holders.size === 0) this.#target.restore(feature, change);
      }
    }
    this.#acted.emit({ rule: w.rule.name, action, features: w.rule.features, reason, at });
  }
}

function describe(w: Watched): string {
  const { objective } = w.rule;
  const budgets = w.budgets.map(({ name }) => `${name} ${objective.latency[name as Percentile]} ms`);
  if (w.errorRatio !== undefined) budgets.push(`errors ${w.errorRatio * 100}%`);
  return `${objective.method} ${objective.route} (${budgets.join(', ')})`;
}

/**
 * Creates a degrader over `rules`.
 *
 * @example
 * const degrader = createDegrader({ rules: spec.degrade, target: flags, clock });
 * degrader.start();
 */
export function createDegrader(options: {
  rules: readonly DegradeRule[];
  target: DegradeTarget;
  clock: Clock;
  /** Milliseconds between verdicts. @default 1_000 */
  interval?: number;
  /** Where the SLIs come from: `prometheusSource(…)` for the fleet's. @default this process's own windows */
  source?: DegradeSource;
}): Degrader {
  return new Degrader(options);
}
