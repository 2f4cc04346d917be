// Checks of policy options: a bad option throws HR_INVALID_OPTION at construction, naming the option.

import { invalidOption } from '../errors/index.ts';

interface Range {
  min?: number;
  max?: number;
  /** The lower bound itself is not allowed. */
  above?: boolean;
  integer?: boolean;
  /** Infinity passes (meaning "no limit"). */
  infinite?: boolean;
}

/**
 * Returns `value` when it is a number within `range`, else throws HR_INVALID_OPTION naming the option.
 *
 * @example
 * const size = checkNumber('bulkhead', 'maxConcurrent', options.maxConcurrent, { min: 1, integer: true });
 */
export function checkNumber(policy: string, option: string, value: unknown, range: Range = {}): number {
  const { min = 0, max = Number.POSITIVE_INFINITY, above = false, integer = false, infinite = false } = range;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (Number.isFinite(value) || (infinite && value === Number.POSITIVE_INFINITY)) &&
    (above ? value > min : value >= min) &&
    value <= max &&
    (!integer || !Number.isFinite(value) || Number.isInteger(value));
  if (ok) return value;
  const kind = integer ? 'an integer' : 'a number';
  const upper = max === Number.POSITIVE_INFINITY ? (infinite ? ' (Infinity allowed)' : '') : ` and <= ${max}`;
  throw invalidOption(policy, option, `${kind} ${above ? '>' : '>='} ${min}${upper}`, value);
}

/**
 * Returns `value` when it is a function, else throws HR_INVALID_OPTION naming the option.
 *
 * @example
 * const isFailure = checkFunction('circuitBreaker', 'isFailure', options.isFailure);
 */
export function checkFunction<F>(policy: string, option: string, value: F): F {
  if (typeof value === 'function') return value;
  throw invalidOption(policy, option, 'a function', value);
}

/**
 * Returns `value` when it is one of `allowed`, else throws HR_INVALID_OPTION naming the option.
 *
 * @example
 * const jitter = checkOneOf('retry', 'jitter', options.jitter, ['full', 'decorrelated', 'none'] as const);
 */
export function checkOneOf<T extends string>(
  policy: string,
  option: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (allowed.includes(value as T)) return value as T;
  throw invalidOption(policy, option, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
}

/**
 * Returns `value` when it is an object with a Clock's methods, else throws HR_INVALID_OPTION.
 *
 * @example
 * const clock = checkClock('timeout', options.clock ?? systemClock());
 */
export function checkClock<C extends { now(): number; monotonic(): number }>(policy: string, value: C): C {
  const c = value as Partial<Record<string, unknown>> | null;
  if (c && typeof c.monotonic === 'function' && typeof c.setTimeout === 'function') return value;
  throw invalidOption(policy, 'clock', 'a Clock (now, monotonic, setTimeout)', value);
}

/**
 * `defaults` overlaid with the options the caller set; an option given as `undefined` keeps its default.
 *
 * @example
 * const o = withDefaults(defaultOptions, options);
 */
export function withDefaults<D extends object, O extends object>(defaults: D, options: O): D & O {
  const set = Object.entries(options).filter(([, value]) => value !== undefined);
  return { ...defaults, ...Object.fromEntries(set) } as D & O;
}
