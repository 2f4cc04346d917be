// The one JSON snapshot every view of the operations page draws from, read from the plugin's registries at one
// moment: the same objects, and so the same figures, that the admin API and `/metrics` serve.

import type { Clock } from '@headroom/core/clock';
import { orAfter } from '@headroom/core/clock';
import type { Registry } from 'prom-client';
import type { CacheRegistry } from '../cache-metrics.ts';
import type { ConfigRegistry } from '../config-registry.ts';
import type { BreakerControls } from '../controls/breakers.ts';
import type { DegraderRegistry } from '../degrader-registry.ts';
import type { FlagRegistry } from '../flag-registry.ts';
import type { JobRegistry } from '../job-registry.ts';
import type { Protection } from '../protection.ts';
import type { WebhookRegistry } from '../webhook-registry.ts';
import type { BurnHistory } from './burn-history.ts';
import { readPhaseSeries, readRouteSeries } from './route-series.ts';
import { type OpsObjective, offenders, sloRows } from './slo-rows.ts';

/** The plugin's registries and the service's objectives: what the page reads and acts on. */
export interface OpsPageDeps {
  registry: Registry;
  protection: Protection;
  caches: CacheRegistry;
  jobs: JobRegistry;
  webhooks: WebhookRegistry;
  degrader: DegraderRegistry;
  flags: FlagRegistry;
  config: ConfigRegistry;
  /** The plugin's clock: session times, the sign-in limit, the bound on queue reads. */
  clock: Clock;
  /** The service's objectives (the plugin's `spec`). @default none: the SLO view is empty */
  spec?: { objectives: readonly OpsObjective[] } | undefined;
  /**
   * The breaker controls, shared with the admin API so that either can release what the other isolated.
   * @default controls of the page's own
   */
  breakers?: BreakerControls;
}

/** What {@link readState} reads besides the plugin's registries. */
export interface StateSources {
  breakers: BreakerControls;
  /** Samples of the objectives' counts, for the recent burn rates. */
  history?: BurnHistory;
  /** The service's slowest statements (`opsPage.slowQueries`). */
  slowQueries?: (() => Promise<unknown>) | undefined;
}

/** Queue and webhook reads go to the database: a slow one leaves its panel saying so, not the page hanging. */
const readTimeout = 2_000;
/** Flag changes the page lists, newest first. */
const recentChanges = 20;
/** Tenants the rate limits panel lists, the most refused first. */
const topTenants = 10;
/** Breaker transitions the page lists, newest first. */
const recentTransitions = 20;
/** Dead jobs the page lists per queue that has any, oldest first (the admin API pages through all). */
const deadShown = 5;
/** A dead job's last error is cut to this many characters. */
const errorShown = 300;

/**
 * The snapshot, read now. Breakers, bulkheads, caches, degrader, flags, queues, failing webhooks and the rate
 * limits by tenant are what the admin routes return; routes, phases and config are read from the metric objects
 * `/metrics` prints.
 *
 * @example
 * reply.send(await readState({ ...deps, breakers: breakerControls(deps.protection) }, '/_headroom'));
 */
export async function readState(deps: OpsPageDeps & StateSources, prefix: string) {
  const { registry, protection, caches, jobs, webhooks, degrader, flags, clock } = deps;
  const unread = { error: `not read within ${readTimeout} ms` };
  const bounded = <T>(read: Promise<T>, message: string) =>
    orAfter(
      read.then((data) => ({ data }), failed(message)),
      clock,
      readTimeout,
      unread,
    );
  const [routes, phases, queues, failing, slowQueries, release, config] = await Promise.all([
    readRouteSeries(registry),
    readPhaseSeries(registry),
    jobs.jobs ? bounded(queueCounts(jobs.jobs), 'the queue counts could not be read') : null,
    webhooks.webhooks
      ? bounded(webhooks.webhooks.failingEndpoints(), 'the failing endpoints could not be read')
      : null,
    deps.slowQueries ? bounded(deps.slowQueries(), 'the slow queries could not be read') : null,
    readRelease(registry, clock),
    readConfig(registry, deps.config),
  ]);
  const tracked = flags.flags;
  const rateLimits = protection.tenantTracking?.tenants;
  const at = clock.now();
  const rejected = new Map<string, number>();
  for (const { labels, value } of await collected(registry, 'headroom_concurrency_rejected_total')) {
    rejected.set(String(labels.limiter), (rejected.get(String(labels.limiter)) ?? 0) + value);
  }
  return {
    at,
    release,
    slos: sloRows(deps.spec?.objectives ?? [], {
      routes,
      phases,
      at,
      ...(deps.history ? { history: deps.history } : {}),
    }),
    offenders: offenders(routes, prefix),
    slow_queries: slowQueries,
    breakers: deps.breakers.list(),
    breaker_transitions: protection.transitions().slice(0, recentTransitions),
    rate_limits: rateLimits
      ? { since: new Date(rateLimits.since).toISOString(), data: rateLimits.top(topTenants) }
      : null,
    bulkheads: [...protection.bulkheads.values()].map((b) => ({
      ...b.stats(),
      rejected: rejected.get(b.name) ?? 0,
    })),
    degrader: degrader.degrader?.states() ?? [],
    caches: [...caches.caches.values()].map((c) => c.stats()),
    queues,
    failing_webhooks: failing,
    flags: tracked ? { data: tracked.snapshot(), changes: tracked.audit().slice(0, recentChanges) } : null,
    config,
  };
}

/** The snapshot's type, for the page's tests. */
export type OpsState = Awaited<ReturnType<typeof readState>>;

const failed = (message: string) => () => ({ error: message });

type Jobs = NonNullable<JobRegistry['jobs']>;

// Each queue's counts, and the first dead jobs of a queue that has any (without their payloads: a payload
// may hold what only its tenant should see, and the admin API serves it to whoever may).
async function queueCounts(jobs: Jobs) {
  const counts = await jobs.counts();
  return Promise.all(
    counts.map(async (count) => ({
      ...count,
      dead_jobs:
        count.dead === 0
          ? []
          : (await jobs.dead(count.queue, { limit: deadShown })).map((job) => ({
              id: job.id,
              tenant: job.tenant,
              attempts: job.attempts,
              reason: job.reason,
              last_error: job.lastError?.slice(0, errorShown) ?? null,
              finished_at: job.finishedAt,
            })),
    })),
  );
}

interface Collected {
  values: { labels: Record<string, string | number>; value: number }[];
}

async function collected(registry: Registry, name: string): Promise<Collected['values']> {
  const metric = registry.getSingleMetric(name);
  return metric === undefined ? [] : ((await metric.get()) as unknown as Collected).values;
}

/**
 * The release marker the plugin exports (`headroom_build_info`, `headroom_start_time_seconds`) and this Node.
 *
 * @example
 * (await readRelease(registry, clock)).service; // 'casebook'
 */
export async function readRelease(registry: Registry, clock: Clock) {
  const [build, started] = await Promise.all([
    collected(registry, 'headroom_build_info'),
    collected(registry, 'headroom_start_time_seconds'),
  ]);
  const labels = build[0]?.labels ?? {};
  const startedAt = started[0] === undefined ? null : started[0].value * 1000;
  return {
    service: String(labels.service ?? ''),
    version: String(labels.version ?? ''),
    commit: String(labels.commit ?? ''),
    started_at: startedAt,
    uptime_s: startedAt === null ? null : (clock.now() - startedAt) / 1000,
    node: process.version,
  };
}

// The config in force (`headroom_config_info`), its reloads by result, and whether the last one was refused.
async function readConfig(registry: Registry, config: ConfigRegistry) {
  const [info, reloads] = await Promise.all([
    collected(registry, 'headroom_config_info'),
    collected(registry, 'headroom_config_reloads_total'),
  ]);
  const inForce = info[0]?.labels;
  if (inForce === undefined) return null;
  const check = config.checks()['config:version'];
  return {
    version: String(inForce.version),
    checksum: String(inForce.checksum),
    reloads: Object.fromEntries(reloads.map((r) => [String(r.labels.result), r.value])),
    last_reload: check?.status === 'warn' ? 'refused' : 'ok',
    detail: check?.output ?? null,
  };
}
