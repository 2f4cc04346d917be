// The release marker: headroom_build_info says which build runs, headroom_start_time_seconds when it started (from
// the plugin's clock), both labelled the same, so a dashboard can annotate each deploy at its start.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import Fastify from 'fastify';
import { headroom } from '../src/index.ts';

test('headroom_start_time_seconds: the start on the plugin’s clock, with the build’s labels', async () => {
  const clock = new FakeClock({ now: Date.parse('2026-12-05T10:00:00Z') });
  const app = Fastify();
  await app.register(headroom, {
    service: 'shop',
    version: '2.4.1',
    commit: 'abc123',
    clock,
    defaultMetrics: false,
  });
  await clock.tick(60_000); // later scrapes still say when it started
  const text = (await app.inject({ url: '/metrics' })).body;
  assert.match(text, /^headroom_build_info\{service="shop",version="2\.4\.1",commit="abc123"\} 1$/m);
  assert.match(
    text,
    new RegExp(
      `^headroom_start_time_seconds\\{service="shop",version="2\\.4\\.1",commit="abc123"\\} ${Date.parse('2026-12-05T10:00:00Z') / 1000}$`,
      'm',
    ),
  );
  await app.close();
});
