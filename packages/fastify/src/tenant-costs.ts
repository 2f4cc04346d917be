// Cost attribution: requests and CPU time by tenant and feature, as `headroom_tenant_requests_total` and
// `headroom_tenant_cpu_seconds_total` ({tenant, feature}; the tenant label capped to the top N, see
// top-tenants.ts) and as the exact rows of the showback table (`GET /admin/showback`).
//
// CPU per request cannot be read directly: with requests interleaved on one thread, a process.cpuUsage() delta
// between two hooks of a request includes other requests' work. So the process CPU is read every `interval` ms
// and each interval's CPU is split across the requests in flight during it, in proportion to their time in flight
// within it. What that gets right: every CPU second of an interval with a request in flight is charged to some
// request (the sum is exact, `unattributed` holds intervals with none). Its error: a request is charged by
// occupancy, not by its own work, so within one interval an I/O-bound request (waiting on PostgreSQL) is charged
// like a CPU-bound one of the same duration, and background work (GC, job workers, timers) is charged to whoever
// was in flight. It is a fair split of what the process spent while serving, not a profile. Charges lag by up to
// one interval (a request's last part is charged when its interval closes).

import type { Clock, Timer } from '@headroom/core/clock';
import { invalidOption } from '@headroom/core/errors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { HttpMetricsHook } from './http-metrics.ts';
import { CounterFamily, type CounterSeries, overflowLabel } from './metric-series.ts';
import { allTenants, anonymousTenant, TopTenants, tenantLabelValue } from './top-tenants.ts';

/** The `cost` option of the plugin: how CPU time is read and split. */
export interface CostOptions {
  /** Process CPU time used so far, in seconds (user + system). @default process.cpuUsage() */
  cpu?: () => number;
  /** How often (ms) the process CPU is read and split across the requests in flight. @default 1000 */
  interval?: number;
  /** How often (ms) the top-N tenants are re-ranked (see top-tenants.ts). @default 60000 */
  rankEvery?: number;
}

/** What {@link tenantCosts} needs besides {@link CostOptions}. */
export interface TenantCostsOptions extends CostOptions {
  clock: Clock;
  /** The tenant of a request, read as its answer is sent; undefined is `anonymous`. */
  tenantOf?: ((request: FastifyRequest) => string | undefined) | undefined;
  /** Tenants that may have their own label (spec `telemetry.tenants.top`); 0: the label is always `all`. */
  tenantTop: number;
  /** Showback rows (tenant × feature) kept; past it, new ones add to a `__overflow__` tenant row. */
  maxRows: number;
  /** Objectives whose `journey` names the feature of their route. */
  objectives?: readonly { method?: string; route?: string; journey?: string }[] | undefined;
}

/** One row of the showback table. */
export interface ShowbackRow {
  tenant: string;
  feature: string;
  requests: number;
  cpu_seconds: number;
  share_of_requests: number;
  share_of_cpu: number;
}

/** The showback table: rows by CPU, descending, over a window. */
export interface Showback {
  window: { since: string; until: string; seconds: number };
  /** What the shares are of: the whole service's totals, or the one tenant's. */
  shares_of: 'service' | 'tenant';
  data: ShowbackRow[];
  /** Process CPU spent while no request was in flight (operators only). */
  unattributed_cpu_seconds?: number;
}

/** What {@link tenantCosts} returns. */
export interface TenantCosts {
  /** Call from the first onRequest hook: the request is in flight from now. */
  start(request: FastifyRequest, reply: FastifyReply): void;
  /** The onResponse hook of one route: counts its request, with the route's feature. */
  route(method: string | readonly string[], template: string, config: unknown): HttpMetricsHook;
  /** Counts an answer no route gave (feature `other`); call it when the answer is sent. */
  unmatched(request: FastifyRequest): void;
  /** Runs one CPU split now (the timer does it every `interval`). */
  tick(): void;
  /** The showback table, of every tenant or of one (shares of that tenant's own totals). */
  showback(scope: { tenant?: string | undefined; sharesOf: 'service' | 'tenant' }): Showback;
  /** The top-N labeler the tenant label comes from. */
  readonly tenants: TopTenants;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What this route's cost is attributed to in showback and `headroom_tenant_*` (else the spec journey). */
    feature?: string;
  }
  interface FastifyRequest {
    [inFlightOf]: InFlight | undefined;
  }
}

/** Where a request's in-flight record is kept. */
export const inFlightOf: unique symbol = Symbol('headroom.inFlight');

/**
 * A request in flight, in a doubly linked list (O(1) in and out, no hashing per request). `carried` is the CPU
 * already charged to it by closed intervals, paid into its row when it ends.
 */
export interface InFlight {
  request: FastifyRequest;
  reply: FastifyReply;
  start: number;
  carried: number;
  prev: InFlight | undefined;
  next: InFlight | undefined;
}

interface Row {
  tenant: string;
  feature: string;
  requests: number;
  cpu: number;
  /** Time in flight (ms) in the open interval of this row's ended requests, charged when it closes. */
  pending: number;
  generation: number;
  series: { requests: CounterSeries; cpu: CounterSeries } | undefined;
}

const defaultOptions = { interval: 1000, rankEvery: 60_000 } as const;

/** The feature of a route that names none and matches no journey. */
export const otherFeature = 'other';

const processCpu = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/**
 * Registers the cost counters in `registry`, starts the CPU split timer on `options.clock` (stopped when `app`
 * closes) and returns the hooks the plugin wires into every route.
 *
 * @example
 * const costs = tenantCosts(app, registry, { clock, tenantOf, tenantTop: 20, maxRows: 10_000, objectives });
 * app.addHook('onRoute', (route) => { route.onResponse = [costs.route(route.method, route.url, route.config)]; });
 */
export function tenantCosts(
  app: FastifyInstance,
  registry: Registry,
  options: TenantCostsOptions,
): TenantCosts {
  const interval = options.interval ?? defaultOptions.interval;
  const rankEvery = options.rankEvery ?? defaultOptions.rankEvery;
  for (const [name, value] of [
    ['interval', interval],
    ['rankEvery', rankEvery],
  ] as const) {
    if (!(Number.isFinite(value) && value > 0)) {
      throw invalidOption('@headroom/fastify', `cost.${name}`, 'a positive number of milliseconds', value);
    }
  }
  if (options.cpu !== undefined && typeof options.cpu !== 'function') {
    throw invalidOption('@headroom/fastify', 'cost.cpu', 'a function', options.cpu);
  }
  const { clock, tenantOf, maxRows } = options;
  const cpu = options.cpu ?? processCpu;
  app.decorateRequest(inFlightOf, undefined);
  const tenants = new TopTenants({ top: options.tenantTop });
  const labelNames = ['tenant', 'feature'] as const;
  const requestsTotal = new CounterFamily({
    name: 'headroom_tenant_requests_total',
    help: 'Requests answered, by tenant (the busiest N, the rest "other"; "anonymous" without one) and feature.',
    labelNames,
    registers: [registry],
  });
  const cpuTotal = new CounterFamily({
    name: 'headroom_tenant_cpu_seconds_total',
    help: 'Process CPU time charged to requests (each interval split across the requests in flight by their time in flight), by tenant and feature.',
    labelNames,
    registers: [registry],
  });
  const journeys = new Map<string, string>();
  for (const o of options.objectives ?? []) {
    if (o.journey !== undefined && o.method !== undefined) journeys.set(`${o.method} ${o.route}`, o.journey);
  }
  const featureOf = (method: string, template: string | undefined, config: unknown): string => {
    const named = (config as { feature?: unknown } | undefined)?.feature;
    const feature =
      typeof named === 'string'
        ? named
        : template === undefined
          ? undefined
          : journeys.get(`${method} ${template}`);
    return feature === undefined ? otherFeature : tenantLabelValue(feature);
  };

  const since = clock.now();
  const head = { next: undefined, prev: undefined } as unknown as InFlight;
  head.next = head;
  head.prev = head;
  const rows = new Map<string, Map<string, Row>>();
  const features = new Set<string>();
  let rowCount = 0;
  let dirty: Row[] = [];
  let pendingWeight = 0;
  let unattributed = 0;
  let lastTick = clock.monotonic();
  let lastRank = lastTick;
  let lastCpu = cpu();

  const labelOf = (tenant: string): string =>
    tenants.top === 0 ? allTenants : tenant === anonymousTenant ? anonymousTenant : tenants.label(tenant);
  const seriesOf = (row: Row) => {
    if (row.series === undefined || row.generation !== tenants.generation) {
      const label = labelOf(row.tenant);
      row.series = {
        requests: requestsTotal.labels(label, row.feature),
        cpu: cpuTotal.labels(label, row.feature),
      };
      row.generation = tenants.generation;
    }
    return row.series;
  };
  const rowFor = (tenant: string, feature: string): Row => {
    let byFeature = rows.get(tenant);
    let row = byFeature?.get(feature);
    if (row !== undefined) return row;
    if (rowCount >= maxRows && tenant !== overflowLabel) return rowFor(overflowLabel, feature);
    if (byFeature === undefined) {
      byFeature = new Map();
      rows.set(tenant, byFeature);
    }
    row = { tenant, feature, requests: 0, cpu: 0, pending: 0, generation: -1, series: undefined };
    byFeature.set(feature, row);
    features.add(feature);
    if (tenant !== overflowLabel) rowCount++;
    return row;
  };
  const charge = (row: Row, seconds: number) => {
    row.cpu += seconds;
    seriesOf(row).cpu.inc(seconds);
  };

  const end = (request: FastifyRequest, feature: string): void => {
    const flight = request[inFlightOf];
    if (flight === undefined) return;
    request[inFlightOf] = undefined;
    flight.prev!.next = flight.next;
    flight.next!.prev = flight.prev;
    const tenant = tenantLabelValue(tenantOf?.(request));
    if (tenant !== anonymousTenant) tenants.observe(tenant);
    const row = rowFor(tenant, feature);
    row.requests++;
    seriesOf(row).requests.inc();
    if (flight.carried > 0) charge(row, flight.carried);
    const weight = clock.monotonic() - Math.max(flight.start, lastTick);
    if (weight > 0) {
      if (row.pending === 0) dirty.push(row);
      row.pending += weight;
      pendingWeight += weight;
    }
  };

  let timer: Timer | undefined;
  const tick = (): void => {
    const now = clock.monotonic();
    const used = cpu();
    const spent = Math.max(0, used - lastCpu);
    // A request whose client went away before its answer never reaches onResponse: it ends here, charged to now.
    for (let f = head.next!; f !== head; ) {
      const next = f.next!;
      if (f.reply.raw.closed || f.reply.raw.destroyed) {
        const { routeOptions } = f.request;
        end(f.request, featureOf(f.request.method, routeOptions.url, routeOptions.config));
      }
      f = next;
    }
    let weight = pendingWeight;
    for (let f = head.next!; f !== head; f = f.next!) weight += now - Math.max(f.start, lastTick);
    if (weight > 0) {
      const perMs = spent / weight;
      for (const row of dirty) {
        charge(row, row.pending * perMs);
        row.pending = 0;
      }
      for (let f = head.next!; f !== head; f = f.next!)
        f.carried += (now - Math.max(f.start, lastTick)) * perMs;
    } else {
      unattributed += spent;
    }
    dirty = [];
    pendingWeight = 0;
    lastTick = now;
    lastCpu = used;
    if (now - lastRank >= rankEvery) {
      lastRank = now;
      // A tenant that lost its label leaves the exposition; its later requests count under `other`.
      for (const tenant of tenants.rank()) {
        for (const feature of features) {
          requestsTotal.remove(tenant, feature);
          cpuTotal.remove(tenant, feature);
        }
      }
    }
  };
  // The timer runs while requests are in flight (and one interval after, to charge the last ones): an idle
  // process is not woken. Waking runs a split first, so the CPU spent while idle is unattributed.
  const schedule = () => {
    timer = clock.setTimeout(function splitCpu() {
      tick();
      if (head.next !== head) schedule();
      else timer = undefined;
    }, interval);
  };
  app.addHook('onClose', function stopCostSplit(_instance, done) {
    timer?.cancel();
    timer = undefined;
    done();
  });

  return {
    tenants,
    start(request, reply) {
      const flight: InFlight = {
        request,
        reply,
        start: clock.monotonic(),
        carried: 0,
        prev: head,
        next: head.next,
      };
      head.next!.prev = flight;
      head.next = flight;
      request[inFlightOf] = flight;
      if (timer === undefined) {
        tick();
        schedule();
      }
    },
    route(method, template, config) {
      const methods = [method].flat();
      const byMethod = new Map(methods.map((m) => [m, featureOf(m, template, config)]));
      const only = methods.length === 1 ? byMethod.get(methods[0]!)! : undefined;
      return function chargeRequest(request, _reply, done) {
        end(request, only ?? byMethod.get(request.method) ?? otherFeature);
        done();
      };
    },
    unmatched(request) {
      end(request, otherFeature);
    },
    tick,
    showback({ tenant, sharesOf }) {
      const wanted = tenant === undefined ? undefined : tenantLabelValue(tenant);
      const data: ShowbackRow[] = [];
      let requests = 0;
      let cpuSeconds = 0;
      for (const [name, byFeature] of rows) {
        if (wanted !== undefined && name !== wanted) continue;
        for (const row of byFeature.values()) {
          data.push({
            tenant: row.tenant,
            feature: row.feature,
            requests: row.requests,
            cpu_seconds: row.cpu,
            share_of_requests: 0,
            share_of_cpu: 0,
          });
        }
      }
      for (const byFeature of sharesOf === 'service'
        ? rows.values()
        : [rows.get(wanted ?? '') ?? new Map()]) {
        for (const row of byFeature.values()) {
          requests += row.requests;
          cpuSeconds += row.cpu;
        }
      }
      for (const row of data) {
        row.share_of_requests = requests > 0 ? row.requests / requests : 0;
        row.share_of_cpu = cpuSeconds > 0 ? row.cpu_seconds / cpuSeconds : 0;
      }
      data.sort(
        (a, b) =>
          b.cpu_seconds - a.cpu_seconds ||
          b.requests - a.requests ||
          (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : a.feature < b.feature ? -1 : 1),
      );
      const until = clock.now();
      return {
        window: {
          since: new Date(since).toISOString(),
          until: new Date(until).toISOString(),
          seconds: (until - since) / 1000,
        },
        shares_of: sharesOf,
        data,
        ...(sharesOf === 'service' ? { unattributed_cpu_seconds: unattributed } : {}),
      };
    },
  };
}
