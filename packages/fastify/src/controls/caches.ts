// Invalidating a cache by tag, as the admin API and the operations page both do it: always for one tenant. A
// tenant admin's is their own; an operator must name it, never "all of them" by leaving it out.

import type { CacheRegistry } from '../cache-metrics.ts';
import { fastifyErrors } from '../errors.ts';
import { notFound } from './not-found.ts';

/**
 * The tenant an operator names in `body.tenant`; 400 HR_VALIDATION naming the field when there is none.
 *
 * @example
 * const scope = operatorTenant(request.body.tenant); // { tenant: 'acme' }
 */
export function operatorTenant(tenant: string | undefined): { tenant: string } {
  if (tenant === undefined) {
    throw fastifyErrors.create('HR_VALIDATION', 'body.tenant is required for an operator', {
      context: { field: 'body.tenant' },
    });
  }
  return { tenant };
}

/**
 * Invalidates `tags` of cache `name` for `scope`'s tenant; 404 HR_NOT_FOUND for a cache the app does not have.
 *
 * @example
 * await invalidateTags(caches, 'cases', { tenant: 'acme' }, ['case:42']);
 */
export async function invalidateTags(
  caches: CacheRegistry,
  name: string,
  scope: { tenant: string },
  tags: string[],
) {
  const cache = caches.caches.get(name);
  if (!cache) throw notFound('cache', 'cache', name);
  await cache.invalidateTags(scope, tags);
  return { cache: name, tenant: scope.tenant, invalidated: tags };
}
