// wrap: composes policies, outermost first, into one policy; the layers pass the call along without
// allocating a closure per layer.

import { invalidOption } from './options.ts';
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
 * the substitute types of fallbacks inside add up in the result type.
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
export function wrap<const P extends readonly (Policy<unknown> & Step)[]>(
  ...policies: P
): WrappedPolicy<AltOf<P[number]>> {
  if (policies.length === 0) throw invalidOption('wrap', 'policies', 'at least one policy', policies);
  const flat: Step[] = [];
  for (const [index, policy] of policies.entries()) {
    if (typeof (policy as Partial<Step>)?.[runStep] !== 'function') {
      throw invalidOption('wrap', `policies[${index}]`, 'a Headroom policy', policy);
    }
    if (policy instanceof WrappedPolicy) flat.push(...policy.policies);
    else flat.push(policy);
  }
  return new WrappedPolicy(Object.freeze(flat));
}
