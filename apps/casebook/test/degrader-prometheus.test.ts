// The degrader's fleet-wide source: a real Prometheus scrapes casebook's /metrics (with the operator token) and
// the degrader reads the rule's p95 and error ratio from it, not from its own process. A slow upstream (the real
// enrichment simulator) puts suggestions over budget in Prometheus' view: the feature goes off; once the
// answers are fast again it comes back. With Prometheus stopped, a verdict changes nothing and says why.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type DegradeSource, loadSpec, prometheusSource, sloQueries } from '@headroom/core/slo';
import { type PrometheusServer, startPrometheus } from '@headroom/dev-servers/prometheus';
import { until } from '@headroom/dev-servers/until';
import { createSimulator } from '@headroom/enrichment-sim';
import type { FastifyInstance } from 'fastify';
import { type EnrichmentClient, enrichmentClient } from '../src/suggestions/enrichment-client.ts';
import { startTestApp, type TestApp, testOperatorToken } from './support/app.ts';

const route = '/v1/cases/:id/suggestions';
let sim: FastifyInstance;
let simUrl: string;
let client: EnrichmentClient;
let t: TestApp;
let prometheus: PrometheusServer;
let source: DegradeSource;
let dir: string;
let acme: string;
let caseIds: number[];

before(async () => {
  sim = createSimulator({ behaviour: { latencyMs: 150, jitterMs: 0 } });
  simUrl = await sim.listen({ port: 0, host: '127.0.0.1' });
  client = enrichmentClient(simUrl);
  const spec = await loadSpec(join(import.meta.dirname, '..', 'headroom.yaml'));
  const objective = spec.objectives.find((o) => o.route === route)!;
  dir = await mkdtemp(join(tmpdir(), 'casebook-prometheus-'));
  // The source is built before Prometheus exists (its URL is only known once it runs): it reads through this.
  let target = '';
  const real = () => prometheusSource({ url: target, selector: 'job="casebook"', timeout: 1_000 });
  source = { name: 'prometheus', read: (query) => real().read(query) };
  t = await startTestApp({
    deps: {
      enrichment: client,
      degraderSource: source,
      spec: {
        ...spec,
        degrade: [
          {
            name: 'suggestions-slow',
            objective: { ...objective, latency: { p95: 50 } },
            features: ['suggestions'],
            breachFor: 0,
            restoreFor: 0,
            minHold: 0,
            minSamples: 5,
            window: 5_000,
          },
        ],
      },
    },
  });
  const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
  prometheus = await startPrometheus({
    dir,
    targets: [{ address: new URL(address).host, job: 'casebook', bearer: testOperatorToken }],
  });
  target = prometheus.url;
  acme = await t.login('analyst@acme.test');
  const { rows } = await t.db.pool.query<{ id: number }>(
    "SELECT c.id FROM cases c JOIN tenants t ON t.id = c.tenant_id WHERE t.slug = 'acme' ORDER BY c.id LIMIT 200",
  );
  caseIds = rows.map((r) => r.id);
});
after(async () => {
  await prometheus?.stop();
  await t.close();
  await client.close();
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

let next = 0;
const suggestions = () => t.as(acme, { url: `/v1/cases/${caseIds[next++ % caseIds.length]}/suggestions` });
const query = {
  method: 'GET',
  route,
  window: 5_000,
  percentiles: ['p95'] as const,
  statuses: ['5xx'] as const,
};

test('the degrader judges the fleet from Prometheus: over budget there turns the feature off, back under turns it on, Prometheus down changes nothing', async () => {
  const degrader = t.app.headroom.degrader.degrader!;
  degrader.stop(); // verdicts by hand, after Prometheus has scraped what the test sent
  assert.equal(degrader.observer('GET', route), undefined, 'no in-process window: the source is the truth');
  const state = () => degrader.states()[0]!;

  // Slow: 150 ms upstream, p95 budget 50 ms.
  // Traffic goes on while waiting: a series first scraped after its requests shows no increase in Prometheus.
  await until(
    async () => {
      await Promise.all(Array.from({ length: 5 }, suggestions));
      const r = await source.read({ ...query, percentiles: ['p95'], statuses: ['5xx'] });
      return r.total >= 10 && (r.latency.p95 ?? 0) > 50;
    },
    { what: 'Prometheus to see the slow answers', timeout: 20_000, interval: 250 },
  );
  await degrader.refresh();
  assert.equal(state().state, 'degraded', JSON.stringify(state()));
  assert.equal(state().source, 'prometheus');
  assert.ok((state().reading.latency?.p95 ?? 0) > 50, JSON.stringify(state().reading));
  const off = await suggestions();
  assert.equal(off.headers['x-headroom-degraded'], 'suggestions');
  const admin = (await t.operator({ url: '/admin/degrader' })).json().data[0];
  assert.equal(admin.source, 'prometheus');

  // Fast again (the feature off answers at once): once the window holds only fast answers, it is restored.
  await fetch(`${simUrl}/_control`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ latencyMs: 0 }),
  });
  await until(
    async () => {
      await Promise.all(Array.from({ length: 5 }, suggestions));
      const r = await source.read({ ...query, percentiles: ['p95'], statuses: ['5xx'] });
      return r.total >= 10 && (r.latency.p95 ?? 100) < 40;
    },
    { what: 'Prometheus to see only fast answers', timeout: 30_000, interval: 500 },
  );
  await degrader.refresh();
  assert.equal(state().state, 'normal', JSON.stringify(state()));
  assert.equal((await suggestions()).headers['x-headroom-degraded'], undefined);

  // Prometheus down: no verdict, the rule stays where it stood, and says why.
  await prometheus.stop();
  await degrader.refresh();
  assert.equal(state().state, 'normal');
  assert.match(state().sourceError ?? '', /fetch failed|ECONNREFUSED|no answer/);
});

test('the PromQL a rule reads is what an operator can paste into Prometheus', () => {
  const q = sloQueries(
    {
      method: 'GET',
      route: '/v1/cases/:id',
      window: 30_000,
      percentiles: ['p95', 'p99'],
      statuses: ['5xx', 429],
    },
    'job="casebook"',
  );
  assert.equal(
    q.total,
    'sum(increase(http_requests_total{method="GET",route="/v1/cases/:id",job="casebook"}[30s]))',
  );
  assert.equal(
    q.failed,
    'sum(increase(http_requests_total{method="GET",route="/v1/cases/:id",job="casebook",code=~"5..|429"}[30s]))',
  );
  assert.equal(
    q.latency.p95,
    'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{method="GET",route="/v1/cases/:id",job="casebook"}[30s])))',
  );
  assert.match(q.latency.p99 ?? '', /^histogram_quantile\(0\.99,/);
  // A label value cannot break out of its quotes.
  const hostile = sloQueries({ ...query, route: '/a"}[1s]) or vector(1) #\\' });
  assert.ok(hostile.total.includes('route="/a\\"}[1s]) or vector(1) #\\\\"'), hostile.total);
});
