// fallback: answer with something else when the protected call fails.

import { abortedError, isAbortedError } from '../errors/index.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkFunction } from '../shared/options.ts';
import { next, PolicyBase, type PolicyTask, runStep, type Step } from './policy.ts';

/** Options of `fallback`. */
export interface FallbackOptions<Alt> {
  /** The answer instead: given the error, returns (or resolves to) the substitute. */
  to: (error: unknown) => Alt | Promise<Alt>;
  /** Which errors the substitute covers. @default every error except the caller's own abort */
  when?: (error: unknown) => boolean;
}

/** Emitted each time the fallback answers. */
export interface FallbackEvent {
  error: unknown;
}

/**
 * The fallback policy; create it with `fallback(options)`. `execute` resolves to the call's result or
 * the substitute, so its type is `T | Alt`.
 *
 * @example
 * const policy = fallback({ to: () => ({ suggestions: [], partial: true }) });
 */
export class FallbackPolicy<Alt> extends PolicyBase<Alt> {
  readonly #to: (error: unknown) => Alt | Promise<Alt>;
  readonly #when: (error: unknown) => boolean;
  readonly #used = new Emitter<FallbackEvent>();

  /** Subscribes to answers given by the fallback. */
  readonly onFallback: Subscribe<FallbackEvent> = this.#used.subscribe;

  constructor(options: FallbackOptions<Alt>) {
    super();
    this.#to = checkFunction('fallback', 'to', options?.to);
    this.#when = checkFunction('fallback', 'when', options.when ?? ((error) => !isAbortedError(error)));
  }

  async [runStep]<T>(
    fn: PolicyTask<T>,
    signal: AbortSignal | undefined,
    key: string | undefined,
    attempt: number,
    chain: readonly Step[],
    depth: number,
  ): Promise<T> {
    try {
      return await next(fn, signal, key, attempt, chain, depth);
    } catch (error) {
      if (signal?.aborted) throw abortedError(signal);
      if (!this.#when(error)) throw error;
      if (this.#used.active) this.#used.emit({ error });
      // Inside a chain the substitute travels as the chain's result; `execute` widens the type to T | Alt.
      return (await this.#to(error)) as unknown as T;
    }
  }
}

/**
 * Answers with `to(error)` when the call fails with an error that `when` accepts. Put it outermost in a
 * `wrap(...)` so it also covers refusals by breakers, bulkheads and timeouts.
 *
 * @example
 * const suggestions = wrap(
 *   fallback({ to: () => ({ data: [], partial: true }) }),
 *   circuitBreaker({ name: 'enrichment' }),
 *   timeout({ duration: 300 }),
 * );
 * const answer = await suggestions.execute(({ signal }) => upstream.suggestions(id, signal));
 */
export function fallback<Alt>(options: FallbackOptions<Alt>): FallbackPolicy<Alt> {
  return new FallbackPolicy(options);
}
