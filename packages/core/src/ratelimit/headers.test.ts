import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRateLimitedError, rateLimitedError } from './errors.ts';
import { rateLimitHeader, rateLimitHeaders, rateLimitPolicyHeader, retryAfterSeconds } from './headers.ts';
import { type RateLimitDecision, rateLimitPolicy } from './rate-limit-policy.ts';

const pro = rateLimitPolicy({ name: 'pro', limit: 600, window: 60_000 });
const allowed: RateLimitDecision = {
  allowed: true,
  policy: pro,
  limit: 600,
  remaining: 598,
  resetMs: 200,
  retryAfterMs: 0,
};
const limited: RateLimitDecision = {
  allowed: false,
  policy: pro,
  limit: 600,
  remaining: 0,
  resetMs: 60_000,
  retryAfterMs: 1001,
};

test('RateLimit-Policy lists each policy as an sf-string with q and w (seconds)', () => {
  assert.equal(rateLimitPolicyHeader(pro), '"pro";q=600;w=60');
  const daily = { name: 'daily', limit: 1000, window: 86_400_000 };
  assert.equal(rateLimitPolicyHeader([pro, daily]), '"pro";q=600;w=60, "daily";q=1000;w=86400');
  assert.equal(rateLimitPolicyHeader({ name: 'fast', limit: 5, window: 500 }), '"fast";q=5;w=1');
  assert.equal(rateLimitPolicyHeader({ name: 'a"b\\c', limit: 1, window: 1000 }), '"a\\"b\\\\c";q=1;w=1');
  assert.equal(
    rateLimitPolicyHeader(pro, { partitionKey: 'trial121323' }),
    '"pro";q=600;w=60;pk=:dHJpYWwxMjEzMjM=:',
  );
});

test('RateLimit carries r and t; t equals Retry-After when limited', () => {
  assert.equal(rateLimitHeader(allowed), '"pro";r=598;t=1');
  assert.equal(rateLimitHeader({ ...allowed, remaining: 600, resetMs: 0 }), '"pro";r=600;t=0');
  assert.equal(rateLimitHeader(limited), '"pro";r=0;t=2');
  assert.equal(retryAfterSeconds(limited), 2);
  assert.equal(retryAfterSeconds({ allowed: false, retryAfterMs: 1 }), 1, 'at least 1 s when limited');
  assert.equal(retryAfterSeconds(allowed), 0);
  assert.deepEqual(rateLimitHeaders(limited), {
    'ratelimit-policy': '"pro";q=600;w=60',
    ratelimit: '"pro";r=0;t=2',
    'retry-after': '2',
  });
  assert.equal(rateLimitHeaders(allowed)['retry-after'], undefined);
});

test('a limited decision maps to HR_RATE_LIMITED (429) naming the policy, with Retry-After', () => {
  const error = rateLimitedError(limited);
  assert.ok(isRateLimitedError(error));
  assert.equal(error.status, 429);
  assert.equal(error.context.policy, 'pro');
  assert.deepEqual(error.context['violated-policies'], ['pro']);
  assert.equal(error.headers['retry-after'], '2');
  assert.equal(error.headers.ratelimit, '"pro";r=0;t=2');
});

test('policies are validated, naming the bad field', () => {
  assert.equal(pro.burst, 600);
  assert.throws(() => rateLimitPolicy({ name: 'x', limit: 0, window: 1000 }), /"limit"/);
  assert.throws(() => rateLimitPolicy({ name: 'x', limit: 1, window: 1.5 }), /"window"/);
  assert.throws(() => rateLimitPolicy({ name: 'é', limit: 1, window: 1000 }), /"name"/);
});
