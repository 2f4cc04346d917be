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
}

/**
 * Base class of every error Headroom throws on purpose.
 *
 * @example
 * throw new HeadroomError('HR_NOT_FOUND', 'case 42 not found', { status: 404 });
 */
export class HeadroomError extends Error {
  readonly code: string;
  readonly status: number;
  readonly context: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(code: string, message: string, options: HeadroomErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HeadroomError';
    this.code = code;
    this.status = options.status ?? 500;
    this.context = options.context ?? {};
    this.headers = options.headers ?? {};
    Object.defineProperty(this, brand, { value: true });
  }
}

/**
 * True for any HeadroomError, also one created by another installed copy of `@headroom/core`.
 *
 * @example
 * if (isHeadroomError(err) && err.code === 'HR_NOT_FOUND') reply.code(404);
 */
export function isHeadroomError(value: unknown): value is HeadroomError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}
