// Error tables: a module declares each of its codes once, with the HTTP status and whether a stack trace is
// captured; throw sites name a code and a message, and a code the table lacks does not compile.

import { HeadroomError, type HeadroomErrorOptions, isHeadroomError } from './headroom-error.ts';

const tableBrand = Symbol.for('headroom.errorTable');

/** How one code behaves wherever it is raised. */
export interface ErrorDefinition {
  /** HTTP status a server answers with when the error reaches a client. */
  readonly status: number;
  /**
   * True for a fault, whose stack trace is worth its cost; false for a planned refusal that is control flow
   * (a 429, a full bulkhead, an open breaker), where the trace is most of the price of the error.
   */
  readonly stack: boolean;
}

/** A module's codes: `HR_*` names mapped to their definitions. */
export type ErrorDefinitions = { readonly [code: `HR_${string}`]: ErrorDefinition };

/** What a throw site adds to a code and a message; the status and the stack come from the table. */
export type ErrorDetails = Pick<HeadroomErrorOptions, 'cause' | 'context' | 'headers'>;

/** The codes of a module, and the one way to make its errors. */
export interface ErrorTable<D extends ErrorDefinitions> {
  /** Each code's status and stack rule. */
  readonly definitions: D;
  /** Each code as a constant, for comparisons: `table.codes.HR_TIMEOUT === 'HR_TIMEOUT'`. */
  readonly codes: { readonly [C in keyof D]: C };
  /** A HeadroomError with `code`'s status and stack rule. */
  create<C extends keyof D & string>(code: C, message: string, details?: ErrorDetails): HeadroomError<C>;
  /** True when `value` is a HeadroomError with `code` (any code of this table when none is given). */
  is<C extends keyof D & string>(value: unknown, code?: C): value is HeadroomError<C>;
}

// A template-literal index signature lets other keys through an object literal; this mapped type does not.
type OnlyHrCodes<D> = { [K in keyof D]: K extends `HR_${string}` ? D[K] : never };

/** The union of the codes an error table declares. */
export type ErrorCodeOf<T> = T extends ErrorTable<infer D> ? keyof D & string : never;

class Table<D extends ErrorDefinitions> implements ErrorTable<D> {
  readonly definitions: D;
  readonly codes: { readonly [C in keyof D]: C };

  constructor(definitions: D) {
    this.definitions = definitions;
    this.codes = Object.freeze(Object.fromEntries(Object.keys(definitions).map((c) => [c, c]))) as {
      readonly [C in keyof D]: C;
    };
  }

  create<C extends keyof D & string>(code: C, message: string, details?: ErrorDetails): HeadroomError<C> {
    const { status, stack } = this.definitions[code] as ErrorDefinition;
    return new HeadroomError(code, message, {
      status,
      stack,
      cause: details?.cause,
      context: details?.context,
      headers: details?.headers,
    });
  }

  is<C extends keyof D & string>(value: unknown, code?: C): value is HeadroomError<C> {
    if (!isHeadroomError(value)) return false;
    return code === undefined ? Object.hasOwn(this.definitions, value.code) : value.code === code;
  }
}

Object.defineProperty(Table.prototype, tableBrand, { value: true });

/**
 * Declares a module's codes. Each status must be an HTTP error status (400–599, or 499 for a caller that went
 * away); anything else throws at once, so a wrong table fails on import, not on the first throw.
 *
 * @example
 * export const exportErrors = defineErrors({
 *   HR_EXPORT_TOO_LARGE: { status: 413, stack: false },
 *   HR_EXPORT_FAILED: { status: 500, stack: true },
 * });
 * throw exportErrors.create('HR_EXPORT_TOO_LARGE', 'at most 100,000 rows', { context: { rows } });
 */
export function defineErrors<const D extends ErrorDefinitions>(definitions: OnlyHrCodes<D>): ErrorTable<D> {
  for (const [code, definition] of Object.entries(definitions)) {
    if (!/^HR_[A-Z0-9_]+$/.test(code)) throw new TypeError(`error code ${code} is not HR_ and capitals`);
    const { status, stack } = definition as ErrorDefinition;
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new TypeError(`error code ${code}: status must be an HTTP error status (400-599), got ${status}`);
    }
    if (typeof stack !== 'boolean') throw new TypeError(`error code ${code}: stack must be true or false`);
  }
  return new Table(Object.freeze({ ...definitions }) as D);
}

/**
 * True for a table made by {@link defineErrors}, also by another installed copy of `@headroom/core`.
 *
 * @example
 * const tables = Object.values(errorsModule).filter(isErrorTable);
 */
export function isErrorTable(value: unknown): value is ErrorTable<ErrorDefinitions> {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[tableBrand] === true
  );
}
