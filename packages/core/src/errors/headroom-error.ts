// The one error type of Headroom: a stable code, an HTTP status, a cause and context fields.

const brand = Symbol.for('headroom.error');

export interface HeadroomErrorOptions {
  /** HTTP status a server should answer with when this error reaches a client. @default 500 */
  status?: number;
  /** The error that caused this one. */
  cause?: unknown;
  /** Machine-readable context: the field at fault, the policy violated, the limit exceeded. */
  context?: Record<string, unknown>;
  /** Response headers that go with the problem (Retry-After, for instance). */
  headers?: Record<string, string>;
  /**
   * False for a planned refusal that is control flow, not a fault (a 429, a full bulkhead, an open breaker):
   * no stack trace is captured, which is most of the cost of making one. @default true
   */
  stack?: boolean;
}

/**
 * Base class of every error Headroom throws on purpose.
 *
 * @example
 * throw new HeadroomError('HR_NOT_FOUND', 'case 42 not found', { status: 404 });
 * // A module's own codes come from its table, which sets the status: see defineErrors.
 */
export class HeadroomError<C extends string = string> extends Error {
  /** The stable `HR_*` code; match on it, never on the message. */
  readonly code: C;
  readonly status: number;
  readonly context: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(code: C, message: string, options: HeadroomErrorOptions = {}) {
    const traceLimit = Error.stackTraceLimit;
    if (options.stack === false) Error.stackTraceLimit = 0;
    try {
      super(message, options.cause === undefined ? undefined : { cause: options.cause });
    } finally {
      Error.stackTraceLimit = traceLimit;
    }
    this.name = 'HeadroomError';
    this.code = code;
    this.status = options.status ?? 500;
    this.context = options.context ?? {};
    this.headers = options.headers ?? {};
  }
}

// On the prototype, not on each instance: the guard below still sees it, also across duplicate installs.
Object.defineProperty(HeadroomError.prototype, brand, { value: true });

/**
 * True for any HeadroomError, also one created by another installed copy of `@headroom/core`.
 *
 * @example
 * if (isHeadroomError(err) && err.code === 'HR_NOT_FOUND') reply.code(404);
 */
export function isHeadroomError(value: unknown): value is HeadroomError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}
