// The root sampler on its own: golden routes, the trace-id ratio, links to sampled spans, the hand-off of a
// request decided before @fastify/otel, and the per-second cap on a fake clock.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import * as sdk from '@opentelemetry/sdk-trace';
import { GoldenPathSampler } from '../src/otel.ts';

const spec = {
  service: 's',
  objectives: [
    { name: 'search', method: 'GET', route: '/search', journey: 'search' },
    { name: 'item', method: 'GET', route: '/items/:id', journey: 'browse' },
  ],
  tracing: { golden: ['search'], maxPerSecond: 3, baggage: [] },
};
const sampled = sdk.SamplingDecision.RECORD_AND_SAMPLED;
const http = (route: string) => ({ 'http.request.method': 'GET', 'http.route': route });
const traceId = (n: number) => n.toString(16).padStart(32, '0');

test('golden routes always (within the cap), others by the trace id ratio, linked spans when the link is sampled', async () => {
  const clock = new FakeClock();
  const sampler = new GoldenPathSampler(spec, 0, clock, sdk);
  const decide = (
    attributes: Record<string, string>,
    links: Parameters<GoldenPathSampler['shouldSample']>[5] = [],
  ) => sampler.shouldSample(ROOT_CONTEXT, traceId(1), 'x', SpanKind.SERVER, attributes, links).decision;
  assert.equal(decide(http('/items/:id')), sdk.SamplingDecision.NOT_RECORD, 'ratio 0, not golden');
  assert.equal(decide(http('/search')), sampled);
  const link = { context: { traceId: traceId(9), spanId: '00f067aa0ba902b7', traceFlags: 1 } };
  assert.equal(decide({}, [link]), sampled, 'a job linked to a sampled request');
  assert.equal(
    decide({}, [{ context: { ...link.context, traceFlags: 0 } }]),
    sdk.SamplingDecision.NOT_RECORD,
  );
  // Two of the three tokens are gone; the third goes to a hand-off, then the cap says no until time passes.
  assert.equal(sampler.handOff(), true, 'a request decided before @fastify/otel takes the last token');
  assert.equal(decide(http('/items/:id')), sampled, 'and its span is sampled');
  assert.equal(sampler.handOff(), false, 'over max_per_second: no hand-off');
  assert.equal(decide(http('/search')), sdk.SamplingDecision.NOT_RECORD, 'over max_per_second');
  await clock.tick(1000);
  assert.equal(decide(http('/search')), sampled);
  const all = new GoldenPathSampler(spec, 1, clock, sdk, 1_000_000);
  assert.equal(
    all.shouldSample(ROOT_CONTEXT, traceId(2), 'x', SpanKind.SERVER, http('/items/:id'), []).decision,
    sampled,
    'ratio 1 samples every trace id',
  );
});
