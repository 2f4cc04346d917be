// What an operator can do from the page: each a POST that needs the session, its CSRF token and the page's
// origin, on the same registries and with the same semantics as the admin API. Flag changes are recorded in
// the flags audit as the page's session.

import type { FastifyInstance } from 'fastify';
import type { CacheRegistry } from '../cache-metrics.ts';
import type { BreakerControls } from '../controls/breakers.ts';
import { invalidateTags, operatorTenant } from '../controls/caches.ts';
import { type FlagOverride, flagControls } from '../controls/flags.ts';
import {
  clearBody,
  flagParams,
  invalidateBody,
  nameParams,
  overrideBody,
  queueParams,
  redriveBody,
} from '../controls/schemas.ts';
import type { FlagRegistry } from '../flag-registry.ts';
import type { JobRegistry } from '../job-registry.ts';
import type { OpsAccess } from './access.ts';
import { notFound } from './errors.ts';

/** What {@link actionRoutes} acts on. */
export interface ActionContext {
  access: OpsAccess;
  breakers: BreakerControls;
  caches: CacheRegistry;
  jobs: JobRegistry;
  flags: FlagRegistry;
}

/**
 * Registers under `api/` in `scope`: `breakers/:name/reset|isolate|release`, `flags/:name/override|clear`,
 * `queues/:name/pause|resume|redrive`, `caches/:name/invalidate`.
 *
 * @example
 * actionRoutes(scope, { access, breakers: breakerControls(protection), caches, jobs, flags });
 */
export function actionRoutes(scope: FastifyInstance, context: ActionContext): void {
  const { access, breakers, caches, jobs, flags } = context;
  const guarded = { onRequest: access.action, bodyLimit: 8192 };
  const who = (request: Parameters<typeof access.sessionOf>[0]) =>
    `operator (ops page, session ${access.sessionOf(request)?.id})`;

  for (const action of ['reset', 'isolate', 'release'] as const) {
    scope.post(
      `/api/breakers/:name/${action}`,
      { ...guarded, schema: { params: nameParams } },
      async (request) => breakers[action]((request.params as { name: string }).name),
    );
  }

  const flagsControl = flagControls(flags);
  scope.post(
    '/api/flags/:name/override',
    { ...guarded, schema: { params: flagParams, body: overrideBody } },
    async (request) =>
      flagsControl.override(
        (request.params as { name: string }).name,
        request.body as FlagOverride,
        who(request),
      ),
  );
  scope.post(
    '/api/flags/:name/clear',
    { ...guarded, schema: { params: flagParams, body: clearBody } },
    async (request) =>
      flagsControl.clear(
        (request.params as { name: string }).name,
        request.body as { tenant?: string; reason: string },
        who(request),
      ),
  );

  for (const action of ['pause', 'resume'] as const) {
    scope.post(
      `/api/queues/:name/${action}`,
      { ...guarded, schema: { params: queueParams } },
      async (request) => {
        const { name } = request.params as { name: string };
        if (!jobs.jobs) throw notFound('job queue', 'queue', 'jobs');
        await jobs.jobs[action](name);
        return { queue: name, paused: action === 'pause' };
      },
    );
  }

  scope.post(
    '/api/queues/:name/redrive',
    { ...guarded, schema: { params: queueParams, body: redriveBody } },
    async (request) => {
      const { name } = request.params as { name: string };
      const { id, tenant } = (request.body ?? {}) as { id?: string; tenant?: string };
      if (!jobs.jobs) throw notFound('job queue', 'queue', 'jobs');
      const redriven = await jobs.jobs.redrive(name, {
        ...(id === undefined ? {} : { id }),
        ...(tenant === undefined ? {} : { tenant }),
      });
      request.log.warn({ queue: name, id, tenant, redriven, by: who(request) }, 'dead jobs redriven');
      return { queue: name, redriven };
    },
  );

  scope.post(
    '/api/caches/:name/invalidate',
    { ...guarded, schema: { params: nameParams, body: invalidateBody } },
    async (request) => {
      const { name } = request.params as { name: string };
      const { tags, tenant } = request.body as { tags: string[]; tenant?: string };
      return invalidateTags(caches, name, operatorTenant(tenant), tags);
    },
  );
}
