// The operator credential: a static bearer token for the process-wide controls (`/metrics`, shared breakers,
// bulkheads, every cache) that no tenant's admin holds. Compared by digest in constant time.

import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** Tells whether a request carries the operator token. */
export type OperatorCheck = (request: FastifyRequest) => boolean;

/**
 * Builds the check of a presented token against `token` (at least 16 characters), by digest in constant time:
 * the operations page's sign-in form posts the token rather than a header.
 *
 * @example
 * const isOperatorToken = operatorTokenCheck(config.operatorToken);
 * if (isOperatorToken(form.token)) signIn();
 */
export function operatorTokenCheck(token: string): (presented: string) => boolean {
  if (typeof token !== 'string' || token.length < 16) {
    throw new TypeError('operatorToken must be a string of at least 16 characters');
  }
  const expected = hash('sha256', token, 'buffer');
  return (presented) => timingSafeEqual(hash('sha256', presented, 'buffer'), expected);
}

/**
 * Builds the check of `token` (at least 16 characters). Only digests are compared, so neither the token's
 * length nor its prefix leaks through timing.
 *
 * @example
 * const isOperator = operatorCheck(config.operatorToken);
 * if (isOperator(request)) grantEverything();
 */
export function operatorCheck(token: string): OperatorCheck {
  const matches = operatorTokenCheck(token);
  return function isOperator(request) {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !/^Bearer /i.test(header)) return false;
    return matches(header.slice(7).trim());
  };
}
