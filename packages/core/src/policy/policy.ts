// The one Policy interface, the context a protected function receives, and the step protocol that lets
// `wrap` chain policies without creating a closure per call and per layer.

/** What the protected function is handed on each attempt. */
export interface PolicyContext {
  /** Aborts when the caller, an outer timeout or a losing hedge wants the attempt to stop. */
  readonly signal: AbortSignal;
  /** 0 for the first attempt, then 1, 2, ... on each retry. */
  readonly attempt: number;
  /** The partition key the call was made with (a tenant id, for the bulkhead's fair share). */
  readonly key: string | undefined;
}

/** The function a policy protects. */
export type PolicyTask<T> = (context: PolicyContext) => Promise<T> | T;

/** Per-call options, for calls that carry more than a signal. */
export interface ExecuteOptions {
  /** Aborting it abandons the call: queued, waiting for a retry, or running. */
  signal?: AbortSignal;
  /** Partition key, e.g. the tenant id; a bulkhead shares its slots fairly between keys. */
  key?: string;
}

/**
 * Runs functions under a protection. Every policy, and every `wrap(...)` of policies, is one of these.
 * `Alt` is the type a fallback may answer with instead of the function's own result.
 *
 * @example
 * const value = await policy.execute(({ signal }) => fetch(url, { signal }), request.signal);
 * const keyed = await policy.execute(() => search(q), { signal, key: tenantId });
 */
export interface Policy<Alt = never> {
  /** Type-only: what a fallback inside may answer with. Never set at run time. */
  readonly '~alt'?: Alt;
  execute<T>(fn: PolicyTask<T>, signal?: AbortSignal | ExecuteOptions): Promise<T | Alt>;
}

/** The key under which Headroom policies expose their step to `wrap`. */
export const runStep: unique symbol = Symbol.for('headroom.policy.step');

/**
 * One layer of a chain: runs the rest of `chain` from `depth` (see `next`) under its protection.
 * Everything a layer needs travels as arguments, so composing layers allocates nothing.
 */
export interface Step {
  [runStep]<T>(
    fn: PolicyTask<T>,
    signal: AbortSignal | undefined,
    key: string | undefined,
    attempt: number,
    chain: readonly Step[],
    depth: number,
  ): Promise<T>;
}

class CallContext implements PolicyContext {
  readonly attempt: number;
  readonly key: string | undefined;
  #signal: AbortSignal | undefined;

  constructor(signal: AbortSignal | undefined, attempt: number, key: string | undefined) {
    this.#signal = signal;
    this.attempt = attempt;
    this.key = key;
  }

  get signal(): AbortSignal {
    // Without a caller signal or a timeout nothing can abort: make the never-aborting signal only if asked.
    this.#signal ??= new AbortController().signal;
    return this.#signal;
  }
}

/**
 * Runs the next layer of `chain`, or the protected function itself once every layer has run.
 *
 * @example
 * // inside a step: run the inner layers with the signal and attempt this layer decided on
 * return await next(fn, controller.signal, key, attempt, chain, depth);
 */
export function next<T>(
  fn: PolicyTask<T>,
  signal: AbortSignal | undefined,
  key: string | undefined,
  attempt: number,
  chain: readonly Step[],
  depth: number,
): Promise<T> | T {
  const step = chain[depth];
  if (step === undefined) return fn(new CallContext(signal, attempt, key));
  return step[runStep](fn, signal, key, attempt, chain, depth + 1);
}

/** A chain with no further layers: a policy executed on its own. */
export const lastStep: readonly Step[] = Object.freeze([]);

/**
 * The signal of `execute`'s second argument, whichever form it took.
 *
 * @example
 * const signal = signalOf(options); // AbortSignal | undefined
 */
export function signalOf(arg: AbortSignal | ExecuteOptions | undefined): AbortSignal | undefined {
  if (arg === undefined || arg instanceof AbortSignal) return arg;
  return arg.signal;
}

/**
 * The partition key of `execute`'s second argument, if it carried one.
 *
 * @example
 * const key = keyOf({ key: 'tenant-7' }); // 'tenant-7'
 */
export function keyOf(arg: AbortSignal | ExecuteOptions | undefined): string | undefined {
  if (arg === undefined || arg instanceof AbortSignal) return undefined;
  return arg.key;
}

/**
 * Base of Headroom's policies: `execute` runs the policy's own step with nothing after it.
 *
 * @example
 * class NoopPolicy extends PolicyBase {
 *   [runStep](fn, signal, key, attempt, chain, depth) { return Promise.resolve(next(fn, signal, key, attempt, chain, depth)); }
 * }
 */
export abstract class PolicyBase<Alt = never> implements Policy<Alt>, Step {
  declare readonly '~alt': Alt;

  execute<T>(fn: PolicyTask<T>, signal?: AbortSignal | ExecuteOptions): Promise<T | Alt> {
    return this[runStep](fn, signalOf(signal), keyOf(signal), 0, lastStep, 0);
  }

  abstract [runStep]<T>(
    fn: PolicyTask<T>,
    signal: AbortSignal | undefined,
    key: string | undefined,
    attempt: number,
    chain: readonly Step[],
    depth: number,
  ): Promise<T>;
}
