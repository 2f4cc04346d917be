// The plugin options the tenant tests share: a fake clock, no default metrics, and the tenant of a request from
// its `x-test-tenant` header (tests only: a service takes it from the authenticated principal, never a header).

import type { Clock } from '@headroom/core/clock';
import type { FastifyRequest } from 'fastify';

/**
 * @example
 * await app.register(headroom, { ...tenantTestOptions(clock), spec });
 */
export function tenantTestOptions(clock: Clock) {
  return {
    service: 'test',
    version: '1.0.0',
    defaultMetrics: false,
    clock,
    tenantOf: (request: FastifyRequest) => request.headers['x-test-tenant'] as string | undefined,
  };
}
