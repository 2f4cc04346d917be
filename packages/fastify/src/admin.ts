// The admin API of protection and caches. Two kinds of caller: an operator, who may use the process-wide
// controls (shared breakers, bulkheads, every cache's stats), and a tenant admin, who may act on their own
// tenant only (invalidate their own cache entries). Registered only when the app says who is who.

import type { HeadroomError } from '@headroom/core/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CacheRegistry } from './cache-metrics.ts';
import type { BreakerControls } from './controls/breakers.ts';
import { invalidateTags, operatorTenant } from './controls/caches.ts';
import { type FlagOverride, flagControls } from './controls/flags.ts';
import {
  clearBody,
  flagParams,
  invalidateBody,
  nameParams,
  overrideBody,
  queueParams,
  redriveBody,
} from './controls/schemas.ts';
import type { DegraderRegistry } from './degrader-registry.ts';
import { fastifyErrors } from './errors.ts';
import type { FlagRegistry } from './flag-registry.ts';
import type { JobRegistry } from './job-registry.ts';
import type { Protection } from './protection.ts';
import type { RateLimitTenants } from './rate-limit-tenants.ts';
import type { TenantCosts } from './tenant-costs.ts';
import type { WebhookRegistry } from './webhook-registry.ts';

/**
 * Who an admin caller is. `operator`: the service's operators (every admin route). `tenant`: an admin of
 * one tenant, whose actions are confined to that tenant (its cache scope `{ tenant }`).
 */
export type AdminAccess = { role: 'operator' } | { role: 'tenant'; tenant: string };

/** The `admin` option of the plugin. */
export interface AdminOptions {
  /**
   * Authenticates the caller and says who they are; throws (401/403 HeadroomError) for anyone who is
   * neither an operator nor a tenant admin.
   */
  authorize: (request: FastifyRequest, reply: FastifyReply) => AdminAccess | Promise<AdminAccess>;
  /** Where the admin routes live. @default '/admin' */
  prefix?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on admin routes: who the caller is. */
    adminAccess?: AdminAccess;
  }
}

function forbidden(detail: string): HeadroomError {
  return fastifyErrors.create('HR_FORBIDDEN', detail);
}

function notFound(
  kind:
    | 'circuit breaker'
    | 'cache'
    | 'job queue'
    | 'webhook sender'
    | 'feature flags'
    | 'feature flag'
    | 'cost attribution',
  name: string,
): HeadroomError {
  const field = {
    'circuit breaker': 'breaker',
    cache: 'cache',
    'job queue': 'queue',
    'webhook sender': 'webhooks',
    'feature flags': 'flags',
    'feature flag': 'flag',
    'cost attribution': 'cost',
  }[kind];
  return fastifyErrors.create('HR_NOT_FOUND', `no ${kind} named "${name}"`, { context: { [field]: name } });
}

/** Rejects with 403 unless the caller is an operator: the control is shared by every tenant. */
async function operatorOnly(request: FastifyRequest): Promise<void> {
  if (request.adminAccess?.role !== 'operator') {
    throw forbidden('this control is shared by every tenant: it needs the operator role');
  }
}

/** What the admin routes act on: the plugin's registries, and the breaker controls it shares with the ops page. */
export interface AdminDeps {
  protection: Protection;
  breakers: BreakerControls;
  caches: CacheRegistry;
  jobs: JobRegistry;
  webhooks: WebhookRegistry;
  degrader: DegraderRegistry;
  flags: FlagRegistry;
  costs: TenantCosts | undefined;
  /** Rate-limit decisions by tenant (every rate-limit hook of the app counts into it). */
  rateLimits: RateLimitTenants;
}

const showbackQuery = {
  type: 'object',
  properties: { tenant: { type: 'string', minLength: 1, maxLength: 200 } },
  additionalProperties: false,
} as const;

const rateLimitTenantsQuery = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
    tenant: { type: 'string', minLength: 1, maxLength: 200 },
  },
  additionalProperties: false,
} as const;

/**
 * Registers, behind `authorize`: for operators `GET <prefix>/breakers`, `POST <prefix>/breakers/:name/reset`,
 * `POST|DELETE <prefix>/breakers/:name/isolate`, `GET <prefix>/bulkheads`, `GET <prefix>/caches`; for
 * operators and tenant admins `POST <prefix>/caches/:name/invalidate {tags, tenant?}` (a tenant admin's
 * own tenant only; an operator names the tenant); `GET <prefix>/showback[?tenant=]` (cost by tenant and feature:
 * an operator sees every tenant, a tenant admin their own rows only, with shares of their own totals);
 * `GET <prefix>/ratelimits/tenants[?limit=&tenant=]` (the tenants refused most by the rate limits, with their
 * quota use: an operator sees the top `limit`, a tenant admin their own row only).
 *
 * @example
 * await adminRoutes(app, { ...registries, breakers: breakerControls(protection), costs }, { authorize: whoIsAdmin });
 */
export async function adminRoutes(app: FastifyInstance, deps: AdminDeps, options: AdminOptions) {
  const { protection, breakers, caches, jobs, webhooks, degrader, flags, costs, rateLimits } = deps;
  await app.register(
    async (admin) => {
      // Async whatever `authorize` is, so Fastify never waits for a `done` callback it will not get.
      // Operators act while the service sheds: admin routes skip the plugin's overload limit.
      admin.addHook('onRoute', function exemptFromOverload(route) {
        route.config = { ...route.config, overload: false };
      });
      admin.addHook('onRequest', async function authorizeAdmin(request, reply) {
        request.adminAccess = await options.authorize(request, reply);
      });
      const operator = { preHandler: operatorOnly };
      admin.get('/breakers', operator, async () => ({ data: breakers.list() }));
      // The three breaker controls (shared with the operations page, which holds the same isolations).
      const control = (method: 'POST' | 'DELETE', path: string, act: 'reset' | 'isolate' | 'release') =>
        admin.route({
          method,
          url: `/breakers/:name/${path}`,
          ...operator,
          schema: { params: nameParams },
          handler: async (request) => breakers[act]((request.params as { name: string }).name),
        });
      control('POST', 'reset', 'reset');
      control('POST', 'isolate', 'isolate');
      control('DELETE', 'isolate', 'release');
      admin.get('/bulkheads', operator, async () => ({
        data: [...protection.bulkheads.values()].map((b) => b.stats()),
      }));
      admin.get('/caches', operator, async () => ({
        data: [...caches.caches.values()].map((c) => c.stats()),
      }));
      admin.post(
        '/caches/:name/invalidate',
        { schema: { params: nameParams, body: invalidateBody } },
        async (request) => {
          const { name } = request.params as { name: string };
          const { tags, tenant } = request.body as { tags: string[]; tenant?: string };
          return invalidateTags(caches, name, invalidationScope(request.adminAccess, tenant), tags);
        },
      );
      queueRoutes(admin, jobs, operator);
      // Endpoints failing now, across tenants: an operator's view (a tenant admin sees their own through the
      // app's API, where each endpoint shows failing_since).
      // The SLO degrader's rules and where each stands (its features come back on by themselves; an operator's
      // flag override wins over it).
      admin.get('/degrader', operator, async () => ({ data: degrader.degrader?.states() ?? [] }));
      flagRoutes(admin, flags, operator);
      // Costs since the process started, by tenant and feature. A tenant admin's shares are of their own tenant's
      // totals: a share of the service's would tell them the others' volume.
      admin.get('/showback', { schema: { querystring: showbackQuery } }, async (request) => {
        if (!costs) throw notFound('cost attribution', 'cost');
        const { tenant } = request.query as { tenant?: string };
        const scope = tenantScope(request.adminAccess, tenant);
        return costs.showback({
          tenant: scope,
          sharesOf: request.adminAccess?.role === 'operator' ? 'service' : 'tenant',
        });
      });
      // Requests the rate limits admitted and refused since the process started, by tenant, with each policy's
      // quota use at the tenant's latest decision.
      admin.get(
        '/ratelimits/tenants',
        { schema: { querystring: rateLimitTenantsQuery } },
        async (request) => {
          const { limit, tenant } = request.query as { limit: number; tenant?: string };
          const scope = tenantScope(request.adminAccess, tenant);
          return {
            since: new Date(rateLimits.since).toISOString(),
            capacity: rateLimits.capacity,
            data: rateLimits.top(limit, scope),
          };
        },
      );
      admin.get('/webhooks/failing', operator, async () => {
        if (!webhooks.webhooks) throw notFound('webhook sender', 'webhooks');
        return { data: await webhooks.webhooks.failingEndpoints() };
      });
    },
    { prefix: options.prefix ?? '/admin' },
  );
}

// Feature flags are process-wide controls: operators only. Each change names who made it (the operator and the
// request id: the token is shared) and why (required).
function flagRoutes(
  admin: FastifyInstance,
  registry: FlagRegistry,
  operator: { preHandler: typeof operatorOnly },
): void {
  const flagsOf = () => {
    if (!registry.flags) throw notFound('feature flags', 'flags');
    return registry.flags;
  };
  const controls = flagControls(registry);
  admin.get('/flags', operator, async () => ({
    data: flagsOf().snapshot(),
    changes: flagsOf().audit().slice(0, 50),
  }));
  admin.put(
    '/flags/:name',
    { ...operator, schema: { params: flagParams, body: overrideBody } },
    async (request) =>
      controls.override(
        (request.params as { name: string }).name,
        request.body as FlagOverride,
        `operator (request ${request.id})`,
      ),
  );
  admin.delete(
    '/flags/:name',
    { ...operator, schema: { params: flagParams, body: clearBody } },
    async (request) =>
      controls.clear(
        (request.params as { name: string }).name,
        request.body as { tenant?: string; reason: string },
        `operator (request ${request.id})`,
      ),
  );
}

const deadQuery = {
  type: 'object',
  properties: {
    tenant: { type: 'string', minLength: 1, maxLength: 200 },
    after: { type: 'string', pattern: '^[0-9]{1,18}$' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  additionalProperties: false,
} as const;

// Queue counts and the kill switch are process-wide (operators); dead jobs are tenant data, so a tenant admin
// lists and redrives their own tenant's only, and an operator may narrow to one tenant.
function queueRoutes(
  admin: FastifyInstance,
  registry: JobRegistry,
  operator: { preHandler: typeof operatorOnly },
): void {
  const queues = () => {
    if (!registry.jobs) throw notFound('job queue', 'jobs');
    return registry.jobs;
  };
  const countsOf = async (queue: string) =>
    (await queues().counts()).find((c) => c.queue === queue) ?? {
      queue,
      paused: false,
      ready: 0,
      scheduled: 0,
      running: 0,
      dead: 0,
      oldestReadyMs: 0,
    };
  admin.get('/queues', operator, async () => ({ data: await queues().counts() }));
  for (const action of ['pause', 'resume'] as const) {
    admin.post(
      `/queues/:name/${action}`,
      { ...operator, schema: { params: queueParams } },
      async (request) => {
        const { name: queue } = request.params as { name: string };
        await queues()[action](queue);
        return countsOf(queue);
      },
    );
  }
  admin.get(
    '/queues/:name/dead',
    { schema: { params: queueParams, querystring: deadQuery } },
    async (request) => {
      const { name: queue } = request.params as { name: string };
      const { tenant, after, limit } = request.query as { tenant?: string; after?: string; limit: number };
      const scope = tenantScope(request.adminAccess, tenant);
      const data = await queues().dead(queue, {
        limit,
        ...(after === undefined ? {} : { after }),
        ...(scope === undefined ? {} : { tenant: scope }),
      });
      return { data, next: data.length === limit ? data.at(-1)?.id : null };
    },
  );
  admin.post(
    '/queues/:name/redrive',
    { schema: { params: queueParams, body: redriveBody } },
    async (request) => {
      const { name: queue } = request.params as { name: string };
      const { id, tenant } = (request.body ?? {}) as { id?: string; tenant?: string };
      const scope = tenantScope(request.adminAccess, tenant);
      const redriven = await queues().redrive(queue, {
        ...(id === undefined ? {} : { id }),
        ...(scope === undefined ? {} : { tenant: scope }),
      });
      return { queue, redriven };
    },
  );
}

// A tenant admin sees and acts on their own tenant only (naming another is refused); an operator may name one
// tenant, or none for all.
function tenantScope(access: AdminAccess | undefined, tenant: string | undefined): string | undefined {
  if (access?.role === 'tenant') {
    if (tenant !== undefined && tenant !== access.tenant) {
      throw forbidden('a tenant admin may act on their own tenant only');
    }
    return access.tenant;
  }
  if (access?.role === 'operator') return tenant;
  throw forbidden('the admin API needs an operator or a tenant admin');
}

// A tenant admin invalidates their own tenant only (naming another is refused, not silently narrowed); an
// operator must name the tenant.
function invalidationScope(access: AdminAccess | undefined, tenant: string | undefined): { tenant: string } {
  if (access?.role === 'tenant') {
    if (tenant !== undefined && tenant !== access.tenant) {
      throw forbidden('a tenant admin may act on their own tenant only');
    }
    return { tenant: access.tenant };
  }
  if (access?.role === 'operator') return operatorTenant(tenant);
  throw forbidden('the admin API needs an operator or a tenant admin');
}
