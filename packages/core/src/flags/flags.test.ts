import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../clock/index.ts';
import { isHeadroomError } from '../errors/index.ts';
import { createFlags } from './flags.ts';

const definitions = {
  suggestions: { default: true },
  expand_depth_3: { default: true, rules: [{ tiers: ['free'], value: false }] },
  ranking: {
    type: 'variant' as const,
    default: 'classic',
    variants: ['classic', 'recency'],
    rules: [{ tenants: ['acme'], value: 'recency' }],
  },
};

test('defaults, then the first rule that matches the tenant and tier', () => {
  const flags = createFlags({ definitions });
  assert.equal(flags.enabled('suggestions'), true);
  assert.equal(flags.enabled('expand_depth_3', { tenant: 'a', tier: 'free' }), false);
  assert.equal(flags.enabled('expand_depth_3', { tenant: 'a', tier: 'pro' }), true);
  assert.deepEqual(flags.evaluate('ranking', { tenant: 'acme' }), { value: 'recency', reason: 'rule' });
  assert.deepEqual(flags.evaluate('ranking', { tenant: 'globex' }), { value: 'classic', reason: 'default' });
  assert.throws(
    () => flags.enabled('sugestions'),
    (e) => isHeadroomError(e) && e.code === 'HR_INVALID_OPTION',
  );
});

test('an override by hand wins over the degrader, which wins over rules; both recorded with who, when and why', () => {
  const clock = new FakeClock({ now: 1_000 });
  const flags = createFlags({ definitions, clock });
  flags.degrade('suggestions', { by: 'degrader:search-slow', reason: 'p95 over budget for 30 s' });
  assert.deepEqual(flags.evaluate('suggestions'), { value: false, reason: 'degraded' });
  flags.override('suggestions', { value: true, by: 'ops@acme', reason: 'incident 42: keep them on' });
  assert.deepEqual(flags.evaluate('suggestions'), { value: true, reason: 'override' });
  flags.override('suggestions', { value: false, tenant: 'globex', by: 'ops', reason: 'globex asked' });
  assert.equal(
    flags.enabled('suggestions', { tenant: 'globex' }),
    false,
    'a tenant override beats the global one',
  );
  assert.equal(flags.enabled('suggestions', { tenant: 'acme' }), true);
  assert.equal(flags.clearOverride('suggestions', { by: 'ops@acme', reason: 'resolved' }), true);
  assert.deepEqual(flags.evaluate('suggestions', { tenant: 'acme' }), { value: false, reason: 'degraded' });
  flags.restore('suggestions', { by: 'degrader:search-slow', reason: 'under 80% for 2 min' });
  assert.deepEqual(flags.evaluate('suggestions', { tenant: 'acme' }), { value: true, reason: 'default' });
  const log = flags.audit();
  assert.deepEqual(
    log.map((c) => [c.action, c.by, c.from, c.to]),
    [
      ['restore', 'degrader:search-slow', false, undefined],
      ['clear', 'ops@acme', true, undefined],
      ['override', 'ops', undefined, false],
      ['override', 'ops@acme', undefined, true],
      ['degrade', 'degrader:search-slow', undefined, false],
    ],
  );
  assert.equal(log[3]!.reason, 'incident 42: keep them on');
  assert.equal(log[3]!.at, 1_000);
});

test('an override expires at its time; a wrong value is refused', () => {
  const clock = new FakeClock({ now: 0 });
  const flags = createFlags({ definitions, clock });
  flags.override('ranking', { value: 'recency', until: 60_000, by: 'ops', reason: 'try it' });
  assert.equal(flags.variant('ranking', { tenant: 'globex' }), 'recency');
  clock.advance(60_000);
  assert.equal(flags.variant('ranking', { tenant: 'globex' }), 'classic');
  assert.throws(() => flags.override('ranking', { value: 'random', by: 'ops', reason: 'x' }));
  assert.throws(() => flags.override('suggestions', { value: 'yes', by: 'ops', reason: 'x' }));
});

test('replace: new definitions whole, overrides and the degrader kept; invalid ones change nothing', () => {
  const flags = createFlags({ definitions });
  flags.override('suggestions', { value: false, by: 'ops', reason: 'x' });
  assert.throws(() =>
    flags.replace(
      { ...definitions, ranking: { ...definitions.ranking, default: 'nope' } },
      { by: 'config', reason: 'reload' },
    ),
  );
  assert.equal(flags.variant('ranking'), 'classic');
  flags.replace(
    { ...definitions, ranking: { ...definitions.ranking, default: 'recency' } },
    { by: 'config', reason: 'reload' },
  );
  assert.equal(flags.variant('ranking', { tenant: 'globex' }), 'recency');
  assert.equal(flags.enabled('suggestions'), false, 'the override stayed');
  assert.deepEqual(
    flags.snapshot().find((f) => f.flag === 'suggestions'),
    { flag: 'suggestions', value: false, reason: 'override', overrides: { '*': false } },
  );
  assert.throws(() => createFlags({ definitions: { 'Bad Name': { default: true } } }));
});
