// The admin API of protection: list circuit breakers and bulkheads, reset, isolate and release breakers.
// Registered only when the app says who may use it (`admin.authorize`); there is no open admin API.

import type { CacheScope } from '@headroom/core/cache';
import { HeadroomError } from '@headroom/core/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CacheRegistry } from './cache-metrics.ts';
import type { Protection } from './protection.ts';

/** The `admin` option of the plugin. */
export interface AdminOptions {
  /** An onRequest hook that authenticates the caller and throws (401/403) unless they have the admin scope. */
  authorize: (request: FastifyRequest, reply: FastifyReply) => Promise<void> | void;
  /** Where the admin routes live. @default '/admin' */
  prefix?: string;
  /**
   * The cache scope an admin may invalidate: their own tenant's. Without it, cache invalidation is not
   * offered (stats still are).
   */
  cacheScope?: (request: FastifyRequest) => CacheScope;
}

const invalidateBody = {
  type: 'object',
  properties: {
    tags: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: { type: 'string', minLength: 1, maxLength: 200 },
    },
  },
  required: ['tags'],
  additionalProperties: false,
} as const;

const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
  required: ['name'],
} as const;

/**
 * Registers `GET <prefix>/breakers`, `POST <prefix>/breakers/:name/reset`, `POST <prefix>/breakers/:name/isolate`,
 * `DELETE <prefix>/breakers/:name/isolate`, `GET <prefix>/bulkheads`, `GET <prefix>/caches` and (with
 * `cacheScope`) `POST <prefix>/caches/:name/invalidate {tags}`, behind `authorize`.
 *
 * @example
 * await adminRoutes(app, protection, caches, { authorize: requireAdmin });
 */
export async function adminRoutes(
  app: FastifyInstance,
  protection: Protection,
  caches: CacheRegistry,
  options: AdminOptions,
) {
  const isolations = new Map<string, { dispose(): void }>();
  const find = (name: string) => {
    const tracked = protection.breakers.get(name);
    if (!tracked) {
      throw new HeadroomError('HR_NOT_FOUND', `no circuit breaker named "${name}"`, {
        status: 404,
        context: { breaker: name },
      });
    }
    return tracked.breaker;
  };
  const list = () =>
    [...protection.breakers.values()].map(({ breaker, critical }) => ({ ...breaker.stats(), critical }));

  await app.register(
    async (admin) => {
      // Async whatever `authorize` is, so Fastify never waits for a `done` callback it will not get.
      admin.addHook('onRequest', async function authorizeAdmin(request, reply) {
        await options.authorize(request, reply);
      });
      admin.get('/breakers', async () => ({ data: list() }));
      admin.post('/breakers/:name/reset', { schema: { params: nameParams } }, async (request) => {
        const { name } = request.params as { name: string };
        const breaker = find(name);
        isolations.get(name)?.dispose();
        isolations.delete(name);
        breaker.reset();
        return breaker.stats();
      });
      admin.post('/breakers/:name/isolate', { schema: { params: nameParams } }, async (request) => {
        const { name } = request.params as { name: string };
        const breaker = find(name);
        if (!isolations.has(name)) isolations.set(name, breaker.isolate());
        return breaker.stats();
      });
      admin.delete('/breakers/:name/isolate', { schema: { params: nameParams } }, async (request) => {
        const { name } = request.params as { name: string };
        const breaker = find(name);
        isolations.get(name)?.dispose();
        isolations.delete(name);
        return breaker.stats();
      });
      admin.get('/bulkheads', async () => ({
        data: [...protection.bulkheads.values()].map((b) => b.stats()),
      }));
      admin.get('/caches', async () => ({ data: [...caches.caches.values()].map((c) => c.stats()) }));
      const { cacheScope } = options;
      if (cacheScope) {
        admin.post(
          '/caches/:name/invalidate',
          { schema: { params: nameParams, body: invalidateBody } },
          async (request) => {
            const { name } = request.params as { name: string };
            const { tags } = request.body as { tags: string[] };
            const cache = caches.caches.get(name);
            if (!cache) {
              throw new HeadroomError('HR_NOT_FOUND', `no cache named "${name}"`, {
                status: 404,
                context: { cache: name },
              });
            }
            // Scoped to the admin's own tenant: another tenant's entries cannot be named from here.
            await cache.invalidateTags(cacheScope(request), tags);
            return { cache: name, invalidated: tags };
          },
        );
      }
    },
    { prefix: options.prefix ?? '/admin' },
  );
}
