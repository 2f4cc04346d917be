// What a /metrics scrape costs at 10,000 series: the headroom plugin's own /metrics (its registry of
// handle-based families, casebook's spec, so its buckets and series guard) against bare Fastify serving
// prom-client's own Histogram and Counter with the same names, label sets and observations, both listening on
// 127.0.0.1 in this process and scraped alternately by one client, in the Prometheus text format and in
// OpenMetrics (which Prometheus asks for first).
//
// The mix is casebook's shape scaled up: latency histograms by method × route × code with the spec's budgets as
// extra edges (most of the series: each label set is one line per bucket, plus _sum and _count), a request
// counter per label set, phase histograms of two golden routes, and the tenant cost counters (20 tenants plus
// other and anonymous, by feature). Default process metrics are off on both sides.
//
//   node bench/metrics-scrape.ts      (BENCH_SCRAPES=N per contender and format, default 50; BENCH_SECONDS caps
//                                      the measured part, default 60)

import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadSpec } from '@headroom/core/slo';
import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Histogram, type OpenMetricsContentType, Registry } from 'prom-client';
import { durationBuckets, wantsOpenMetrics } from '../packages/fastify/src/http-metrics.ts';
import { headroom } from '../packages/fastify/src/index.ts';
import type { CounterFamily, HistogramFamily } from '../packages/fastify/src/metric-series.ts';
import { phaseBuckets } from '../packages/fastify/src/phase-metrics.ts';

const scrapes = Number(process.env.BENCH_SCRAPES ?? 50);
const maxSeconds = Number(process.env.BENCH_SECONDS ?? 60);
const targetSeries = 10_000;
const spec = await loadSpec(join(import.meta.dirname, '../apps/casebook/headroom.yaml'));

// A seeded generator (mulberry32), so both sides get the same observations and every run the same data.
let seed = 16;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
  return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
};
const latency = () => 0.0005 * 2000 ** random(); // log-uniform, 0.5 ms to 1 s

// The data set: label sets with their observations, shared by both sides.
const httpBuckets = durationBuckets(spec);
const phaseEdges = [
  ...new Set([
    ...phaseBuckets,
    ...spec.objectives.flatMap((o) => Object.values(o.phases ?? {}).map((ms) => ms / 1000)),
  ]),
].sort((a, b) => a - b);
const codesByRoute = [
  [200, 304, 404, 429, 500],
  [200, 400, 401, 404],
  [200, 201, 409, 422],
  [200, 503],
] as const;
const features = [
  'login',
  'case-search',
  'case-detail',
  'case-edit',
  'export',
  'webhooks',
  'comments',
  'other',
];
const tenants = [...Array.from({ length: 20 }, (_, i) => String(1001 + i)), 'other', 'anonymous'];
const phaseRoutes = ['/v1/cases/search', '/v1/cases/:id'];
const phases = ['auth', 'ratelimit', 'cache', 'db', 'serialize'];
const linesPerHistogram = (edges: number) => edges + 3; // buckets, +Inf, _sum, _count
const fixed =
  phaseRoutes.length * phases.length * linesPerHistogram(phaseEdges.length) +
  2 * tenants.length * features.length;
const perRoute = (codes: number) => codes * (linesPerHistogram(httpBuckets.length) + 1);
const http: { method: string; route: string; code: number; values: number[] }[] = [];
for (let series = fixed, i = 0; series < targetSeries; i++) {
  const codes = codesByRoute[i % codesByRoute.length]!;
  const method = ['GET', 'POST', 'PATCH', 'DELETE'][i % 4]!;
  for (const code of codes) {
    http.push({ method, route: `/v1/resource${i}/:id`, code, values: Array.from({ length: 8 }, latency) });
  }
  series += perRoute(codes.length);
}
const phaseData = phaseRoutes.flatMap((route) =>
  phases.map((phase) => ({ route, phase, values: Array.from({ length: 8 }, () => latency() / 10) })),
);
const tenantData = tenants.flatMap((tenant) =>
  features.map((feature) => ({
    tenant,
    feature,
    requests: 1 + Math.floor(random() * 100_000),
    cpu: random() * 500,
  })),
);

// Ours: the plugin's registry, filled through its own families (the same objects its hooks use).
async function ours(): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(headroom, {
    service: 'bench',
    version: '1.0.0',
    defaultMetrics: false,
    spec,
    tenantOf: () => undefined,
    cost: { interval: 60_000 },
  });
  const family = <T>(name: string) => app.headroom.registry.getSingleMetric(name) as unknown as T;
  const duration = family<HistogramFamily<string>>('http_request_duration_seconds');
  const total = family<CounterFamily<string>>('http_requests_total');
  for (const { method, route, code, values } of http) {
    const h = duration.labels(method, route, code);
    for (const v of values) h.observe(v);
    total.labels(method, route, code).inc(values.length);
  }
  const phase = family<HistogramFamily<string>>('headroom_phase_duration_seconds');
  for (const { route, phase: name, values } of phaseData) {
    const h = phase.labels('GET', route, name);
    for (const v of values) h.observe(v);
  }
  const requests = family<CounterFamily<string>>('headroom_tenant_requests_total');
  const cpu = family<CounterFamily<string>>('headroom_tenant_cpu_seconds_total');
  for (const row of tenantData) {
    requests.labels(row.tenant, row.feature).inc(row.requests);
    cpu.labels(row.tenant, row.feature).inc(row.cpu);
  }
  return app;
}

// The peer: prom-client's Histogram and Counter, the same series and help texts, served as the plugin serves its
// registry.
async function peer(helpOf: (name: string) => string): Promise<FastifyInstance> {
  const text = new Registry();
  const open = new Registry<OpenMetricsContentType>();
  open.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const registers = [text, open] as Registry[];
  const labelNames = ['method', 'route', 'code'];
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: helpOf('http_request_duration_seconds'),
    labelNames,
    buckets: httpBuckets,
    registers,
  });
  const total = new Counter({
    name: 'http_requests_total',
    help: helpOf('http_requests_total'),
    labelNames,
    registers,
  });
  for (const { method, route, code, values } of http) {
    for (const v of values) duration.observe({ method, route, code }, v);
    total.inc({ method, route, code }, values.length);
  }
  const phase = new Histogram({
    name: 'headroom_phase_duration_seconds',
    help: helpOf('headroom_phase_duration_seconds'),
    labelNames: ['method', 'route', 'phase'],
    buckets: phaseEdges,
    registers,
  });
  for (const { route, phase: name, values } of phaseData) {
    for (const v of values) phase.observe({ method: 'GET', route, phase: name }, v);
  }
  const requests = new Counter({
    name: 'headroom_tenant_requests_total',
    help: helpOf('headroom_tenant_requests_total'),
    labelNames: ['tenant', 'feature'],
    registers,
  });
  const cpu = new Counter({
    name: 'headroom_tenant_cpu_seconds_total',
    help: helpOf('headroom_tenant_cpu_seconds_total'),
    labelNames: ['tenant', 'feature'],
    registers,
  });
  for (const row of tenantData) {
    requests.inc({ tenant: row.tenant, feature: row.feature }, row.requests);
    cpu.inc({ tenant: row.tenant, feature: row.feature }, row.cpu);
  }
  const app = Fastify();
  app.get('/metrics', async (request, reply) =>
    wantsOpenMetrics(request.headers.accept)
      ? reply.type(Registry.OPENMETRICS_CONTENT_TYPE).send(await open.metrics())
      : reply.type(text.contentType).send(await text.metrics()),
  );
  return app;
}

const formats = {
  'text 0.0.4': 'text/plain;version=0.0.4;q=1,*/*;q=0.1',
  OpenMetrics: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
} as const;
type Format = keyof typeof formats;

async function scrape(url: string, format: Format): Promise<{ ms: number; body: Buffer }> {
  const started = performance.now();
  const res = await fetch(url, { headers: { accept: formats[format], 'accept-encoding': 'identity' } });
  const body = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - started;
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return { ms, body };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};
const series = (body: Buffer) =>
  body
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#')).length;

const plugin = await ours();
const helpOf = (name: string) =>
  (plugin.headroom.registry.getSingleMetric(name) as unknown as { help: string }).help;
const contenders = { 'headroom plugin': plugin, 'prom-client': await peer(helpOf) };
const urls: Record<string, string> = {};
for (const [name, app] of Object.entries(contenders)) {
  urls[name] = `${await app.listen({ port: 0, host: '127.0.0.1' })}/metrics`;
}
try {
  const results = new Map<string, { times: number[]; body: Buffer }>();
  for (const format of Object.keys(formats) as Format[]) {
    for (const name of Object.keys(contenders)) {
      for (let i = 0; i < 4; i++) await scrape(urls[name]!, format); // warm: JIT, sockets
      results.set(`${format}|${name}`, { times: [], body: (await scrape(urls[name]!, format)).body });
    }
  }
  const deadline = performance.now() + maxSeconds * 1000;
  let rounds = 0;
  for (; rounds < scrapes && performance.now() < deadline; rounds++) {
    for (const format of Object.keys(formats) as Format[]) {
      for (const name of rounds % 2 === 0 ? Object.keys(contenders) : Object.keys(contenders).reverse()) {
        const { ms, body } = await scrape(urls[name]!, format);
        const result = results.get(`${format}|${name}`)!;
        result.times.push(ms);
        result.body = body;
      }
    }
  }
  const ourSeries = series(results.get('text 0.0.4|headroom plugin')!.body);
  const peerSeries = series(results.get('text 0.0.4|prom-client')!.body);
  console.log(
    `/metrics with ${ourSeries} series (prom-client: ${peerSeries}; ours adds headroom_build_info and ` +
      `headroom_metric_series_dropped_total): ${http.length} http label sets × ${httpBuckets.length} buckets, ` +
      `${phaseData.length} phase label sets, ${tenantData.length} tenant × feature pairs × 2 counters`,
  );
  console.log(
    `${rounds} scrapes per contender and format, alternating, over HTTP on 127.0.0.1 (client in-process)`,
  );
  console.log('| format | server | p50 ms | p99 ms | bytes | gzip bytes |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: |');
  const row = (format: Format, name: string) => {
    const { times, body } = results.get(`${format}|${name}`)!;
    return {
      p50: percentile(times, 50),
      p99: percentile(times, 99),
      bytes: body.length,
      gzip: gzipSync(body).length,
    };
  };
  for (const format of Object.keys(formats) as Format[]) {
    const o = row(format, 'headroom plugin');
    const p = row(format, 'prom-client');
    for (const [name, r] of [
      ['headroom plugin', o],
      ['prom-client', p],
    ] as const) {
      console.log(
        `| ${format} | ${name} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.bytes} | ${r.gzip} |`,
      );
    }
    console.log(
      `| ${format} | ours ÷ prom-client | ${(o.p50 / p.p50).toFixed(3)} | ${(o.p99 / p.p99).toFixed(3)} | ` +
        `${(o.bytes / p.bytes).toFixed(3)} | ${(o.gzip / p.gzip).toFixed(3)} |`,
    );
  }
} finally {
  for (const app of Object.values(contenders)) await app.close();
}
