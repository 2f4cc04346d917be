// wrap: composes policies, outermost first, into one policy; the layers pass the call along without
// allocating a closure per layer.

import { invalidOption } from '../errors/index.ts';
import {
  type ExecuteOptions,
  keyOf,
  next,
  type Policy,
  type PolicyTask,
  runStep,
  type Step,
  signalOf,
} from './policy.ts';

type AltOf<P> = P extends { readonly '~alt': infer A } ? A : never;

/**
 * Any policy from outside Headroom: an object whose `execute(fn, signal?)` runs `fn` under its protection
 * (cockatiel's policies, a hand-written one). `fn` gets a context; when that context carries a `signal`, the
 * layers inside follow it, else they follow the signal the outer layers gave.
 */
export interface ForeignPolicy {
  execute(fn: (context?: { signal?: AbortSignal }) => unknown, signal?: AbortSignal): PromiseLike<unknown>;
}

// A foreign policy as a layer of the chain: it runs the inner layers as its function. It costs a closure a
// call, which Headroom's own steps avoid; it is the price of a protocol the other library does not know.
class ForeignStep implements Step {
  readonly #policy: ForeignPolicy;

  constructor(policy: ForeignPolicy) {
    this.#policy = policy;
  }

  [runStep]<T>(
    fn: PolicyTask<T>,
    signal: AbortSignal | undefined,
    key: string | undefined,
    attempt: number,
    chain: readonly Step[],
    depth: number,
  ): Promise<T> {
    const inner = (context?: { signal?: AbortSignal }) =>
      next(fn, context?.signal instanceof AbortSignal ? context.signal : signal, key, attempt, chain, depth);
    return Promise.resolve(this.#policy.execute(inner, signal)) as Promise<T>;
  }
}

/**
 * Policies composed by `wrap`: itself a policy, and a layer that another `wrap` can take in.
 *
 * @example
 * const policy: WrappedPolicy<Fallback> = wrap(fallback({ to: () => stale }), breaker, timeout({ duration: 200 }));
 */
export class WrappedPolicy<Alt = never> implements Policy<Alt>, Step {
  declare readonly '~alt': Alt;
  /** The layers, outermost first. */
  readonly policies: readonly Step[];

  constructor(policies: readonly Step[]) {
    this.policies = policies;
  }

  execute<T>(fn: PolicyTask<T>, signal?: AbortSignal | ExecuteOptions): Promise<T | Alt> {
    return Promise.resolve(next(fn, signalOf(signal), keyOf(signal), 0, this.policies, 0));
  }

  // Inside another chain: run these layers, then the outer chain's remaining layers.
  [runStep]<T>(
    fn: PolicyTask<T>,
    signal: AbortSignal | undefined,
    key: string | undefined,
    attempt: number,
    chain: readonly Step[],
    depth: number,
  ): Promise<T> {
    const inner: PolicyTask<T> = (context) => next(fn, context.signal, key, context.attempt, chain, depth);
    return Promise.resolve(next(inner, signal, key, attempt, this.policies, 0));
  }
}

/**
 * Composes policies into one: the first is outermost. Typical order: fallback, timeout for the whole
 * call, retry, circuit breaker, timeout per attempt, bulkhead. A wrapped policy is itself a policy, and
 * the substitute types of fallbacks inside add up in the result type. Any object with `execute(fn, signal?)`
 * composes too (a {@link ForeignPolicy}: cockatiel's, or one of your own); the layers inside it get the
 * signal its function is handed.
 *
 * @example
 * const budget = retryBudget({ ratio: 0.1 });
 * const upstream = wrap(
 *   timeout({ duration: 1_000 }),
 *   retry({ maxAttempts: 3, budget }),
 *   circuitBreaker({ name: 'enrichment', slowCallDurationThreshold: 200 }),
 *   timeout({ duration: 300 }),
 *   bulkhead({ maxConcurrent: 32, maxQueue: 64 }),
 * );
 * const body = await upstream.execute(({ signal }) => fetch(url, { signal }).then((r) => r.json()), request.signal);
 */
export function wrap<const P extends readonly ((Policy<unknown> & Step) | ForeignPolicy)[]>(
  ...policies: P
): WrappedPolicy<AltOf<P[number]>> {
  if (policies.length === 0) throw invalidOption('wrap', 'policies', 'at least one policy', policies);
  const flat: Step[] = [];
  for (const [index, policy] of policies.entries()) {
    if (policy instanceof WrappedPolicy) flat.push(...policy.policies);
    else if (typeof (policy as Partial<Step>)?.[runStep] === 'function') flat.push(policy as Step);
    else if (typeof (policy as Partial<ForeignPolicy>)?.execute === 'function')
      flat.push(new ForeignStep(policy));
    else
      throw invalidOption(
        'wrap',
        `policies[${index}]`,
        'a policy: an object with execute(fn, signal)',
        policy,
      );
  }
  return new WrappedPolicy(Object.freeze(flat));
}
