// Feature flags evaluated in process, synchronously: boolean and variant flags from plain definitions (a config
// file can hold them and replace them whole), targeted by tenant and tier, with runtime overrides an operator
// sets through an admin API (who, when, why, recorded), and a channel of their own for the SLO degrader, so that
// a manual override always wins over it. Evaluating a flag is a map read and a few field reads: no promise.

import { type Clock, systemClock } from '../clock/index.ts';
import { invalidOption } from '../errors/index.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';

/** One targeting rule: the first that matches gives the value. */
export interface FlagRule {
  /** Tenants it applies to. @default every tenant */
  tenants?: readonly string[];
  /** Tiers it applies to. @default every tier */
  tiers?: readonly string[];
  value: boolean | string;
}

/** A flag as written (in a config file, say). */
export interface FlagDefinition {
  description?: string;
  /** `boolean` (on or off), or `variant` (one of `variants`). @default 'boolean' */
  type?: 'boolean' | 'variant';
  default: boolean | string;
  variants?: readonly string[];
  rules?: readonly FlagRule[];
}

/** Who asks: the tenant and its tier. */
export interface FlagContext {
  tenant?: string;
  tier?: string;
}

/** Why a flag has its value. */
export type FlagReason = 'override' | 'degraded' | 'rule' | 'default';

/** A flag's value and why. */
export interface FlagEvaluation {
  value: boolean | string;
  reason: FlagReason;
}

/** One change to the flags, as the audit log keeps it. */
export interface FlagChange {
  at: number;
  flag: string;
  /** The tenant an override is for; undefined for every tenant. */
  tenant?: string;
  action: 'override' | 'clear' | 'degrade' | 'restore' | 'replace';
  from: boolean | string | undefined;
  to: boolean | string | undefined;
  by: string;
  reason: string;
}

interface Override {
  value: boolean | string;
  until: number | undefined;
}

interface Flag {
  definition: FlagDefinition;
  rules: readonly FlagRule[];
  /** Overrides by tenant ('' for every tenant). */
  overrides: Map<string, Override>;
  /** The degrader's value while it holds the flag. */
  degraded: boolean | string | undefined;
}

const namePattern = /^[a-z][a-z0-9_.-]{0,63}$/;

/** Checks definitions; throws HR_INVALID_OPTION naming the first flag that is wrong. */
function checkDefinitions(definitions: Record<string, FlagDefinition>): void {
  for (const [name, d] of Object.entries(definitions)) {
    if (!namePattern.test(name)) throw invalidOption('flags', name, 'a name like expand_depth_3', name);
    const type = d.type ?? 'boolean';
    const valid = (value: unknown) =>
      type === 'boolean'
        ? typeof value === 'boolean'
        : typeof value === 'string' && (d.variants ?? []).includes(value);
    if (type === 'variant' && (d.variants ?? []).length === 0) {
      throw invalidOption('flags', `${name}.variants`, 'at least one variant', d.variants);
    }
    if (!valid(d.default))
      throw invalidOption('flags', `${name}.default`, `a ${type} value of the flag`, d.default);
    for (const [i, rule] of (d.rules ?? []).entries()) {
      if (!valid(rule.value))
        throw invalidOption('flags', `${name}.rules[${i}].value`, `a ${type} value`, rule.value);
    }
  }
}

/**
 * The flags; create them with `createFlags({ definitions })`.
 *
 * @example
 * const flags = createFlags({ definitions: { suggestions: { default: true } } });
 * if (flags.enabled('suggestions', { tenant, tier })) loadSuggestions();
 */
export class Flags {
  readonly #clock: Clock;
  #flags = new Map<string, Flag>();
  readonly #audit: FlagChange[] = [];
  readonly #auditSize: number;
  readonly #changed = new Emitter<FlagChange>();
  /** Subscribes to every change: overrides, the degrader's, a new set of definitions. */
  readonly onChange: Subscribe<FlagChange> = this.#changed.subscribe;

  constructor(options: { definitions: Record<string, FlagDefinition>; clock?: Clock; auditSize?: number }) {
    this.#clock = options.clock ?? systemClock();
    this.#auditSize = options.auditSize ?? 1_000;
    checkDefinitions(options.definitions);
    for (const [name, definition] of Object.entries(options.definitions)) {
      this.#flags.set(name, {
        definition,
        rules: definition.rules ?? [],
        overrides: new Map(),
        degraded: undefined,
      });
    }
  }

  /** The flag's value for `context` and why; an unknown flag throws HR_INVALID_OPTION (a typo is a bug). */
  evaluate(name: string, context: FlagContext = {}): FlagEvaluation {
    const flag = this.#flag(name);
    const value = this.#value(flag, context);
    return { value, reason: this.#reason };
  }

  /** A boolean flag's value for `context` (no allocation: the hot path). */
  enabled(name: string, context?: FlagContext): boolean {
    const flag = this.#flags.get(name);
    if (flag === undefined) throw invalidOption('flags', name, 'a defined flag', name);
    return this.#value(flag, context) === true;
  }

  /** A variant flag's value for `context`. */
  variant(name: string, context?: FlagContext): string {
    return String(this.#value(this.#flag(name), context));
  }

  /** Why the last `#value` gave what it gave (read right after it, synchronously). */
  #reason: FlagReason = 'default';

  #value(flag: Flag, context: FlagContext | undefined): boolean | string {
    if (flag.overrides.size > 0) {
      const tenant = context?.tenant;
      const override = (tenant === undefined ? undefined : this.#live(flag, tenant)) ?? this.#live(flag, '');
      if (override !== undefined) {
        this.#reason = 'override';
        return override.value;
      }
    }
    if (flag.degraded !== undefined) {
      this.#reason = 'degraded';
      return flag.degraded;
    }
    const rules = flag.rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (
        rule.tenants !== undefined &&
        (context?.tenant === undefined || !rule.tenants.includes(context.tenant))
      )
        continue;
      if (rule.tiers !== undefined && (context?.tier === undefined || !rule.tiers.includes(context.tier)))
        continue;
      this.#reason = 'rule';
      return rule.value;
    }
    this.#reason = 'default';
    return flag.definition.default;
  }

  /** Sets a value by hand, for every tenant or one, until `until` (ms) if given; recorded with who and why. */
  override(
    name: string,
    change: { value: boolean | string; tenant?: string; until?: number; by: string; reason: string },
  ): void {
    const flag = this.#flag(name);
    const type = flag.definition.type ?? 'boolean';
    const valid =
      type === 'boolean'
        ? typeof change.value === 'boolean'
        : typeof change.value === 'string' && (flag.definition.variants ?? []).includes(change.value);
    if (!valid) throw invalidOption('flags', `${name} override`, `a ${type} value of the flag`, change.value);
    const key = change.tenant ?? '';
    const from = this.#live(flag, key)?.value;
    flag.overrides.set(key, { value: change.value, until: change.until });
    this.#record(name, 'override', from, change.value, change);
  }

  /** Removes an override (of one tenant, or the one for every tenant); recorded. False when there was none. */
  clearOverride(name: string, change: { tenant?: string; by: string; reason: string }): boolean {
    const flag = this.#flag(name);
    const key = change.tenant ?? '';
    const had = flag.overrides.get(key);
    if (!had) return false;
    flag.overrides.delete(key);
    this.#record(name, 'clear', had.value, undefined, change);
    return true;
  }

  /** The degrader turns a flag off (or to `value`); an override by hand still wins. */
  degrade(name: string, change: { by: string; reason: string; value?: boolean | string }): void {
    const flag = this.#flag(name);
    const value = change.value ?? false;
    const from = flag.degraded;
    flag.degraded = value;
    this.#record(name, 'degrade', from, value, change);
  }

  /** The degrader lets go of a flag. */
  restore(name: string, change: { by: string; reason: string }): void {
    const flag = this.#flag(name);
    const from = flag.degraded;
    flag.degraded = undefined;
    this.#record(name, 'restore', from, undefined, change);
  }

  /**
   * Replaces the definitions whole (a config reload), keeping overrides and the degrader's hold of flags that
   * remain; invalid definitions throw and change nothing.
   */
  replace(definitions: Record<string, FlagDefinition>, change: { by: string; reason: string }): void {
    checkDefinitions(definitions);
    const next = new Map<string, Flag>();
    for (const [name, definition] of Object.entries(definitions)) {
      const old = this.#flags.get(name);
      next.set(name, {
        definition,
        rules: definition.rules ?? [],
        overrides: old?.overrides ?? new Map(),
        degraded: old?.degraded,
      });
    }
    this.#flags = next;
    this.#record('*', 'replace', undefined, undefined, change);
  }

  /** Every flag: its value for no particular tenant, why, and the overrides in force. */
  snapshot(): {
    flag: string;
    value: boolean | string;
    reason: FlagReason;
    overrides: Record<string, boolean | string>;
  }[] {
    return [...this.#flags.entries()].map(([name, flag]) => {
      const overrides: Record<string, boolean | string> = {};
      for (const [tenant] of flag.overrides) {
        const live = this.#live(flag, tenant);
        if (live) overrides[tenant === '' ? '*' : tenant] = live.value;
      }
      return { flag: name, ...this.evaluate(name), overrides };
    });
  }

  /** The newest changes first (at most `auditSize`). */
  audit(): readonly FlagChange[] {
    return [...this.#audit].reverse();
  }

  #flag(name: string): Flag {
    const flag = this.#flags.get(name);
    if (flag === undefined) throw invalidOption('flags', name, 'a defined flag', name);
    return flag;
  }

  // An override in force (one past its time is dropped here).
  #live(flag: Flag, tenant: string): Override | undefined {
    const override = flag.overrides.get(tenant);
    if (override?.until !== undefined && this.#clock.now() >= override.until) {
      flag.overrides.delete(tenant);
      return undefined;
    }
    return override;
  }

  #record(
    flag: string,
    action: FlagChange['action'],
    from: FlagChange['from'],
    to: FlagChange['to'],
    change: { tenant?: string; by: string; reason: string },
  ): void {
    const entry: FlagChange = {
      at: this.#clock.now(),
      flag,
      ...(change.tenant === undefined ? {} : { tenant: change.tenant }),
      action,
      from,
      to,
      by: change.by,
      reason: change.reason,
    };
    this.#audit.push(entry);
    if (this.#audit.length > this.#auditSize) this.#audit.shift();
    this.#changed.emit(entry);
  }
}

/**
 * Creates the flags.
 *
 * @example
 * const flags = createFlags({ definitions: { expand_depth_3: { default: true } }, clock });
 */
export function createFlags(options: {
  definitions: Record<string, FlagDefinition>;
  clock?: Clock;
  auditSize?: number;
}): Flags {
  return new Flags(options);
}
