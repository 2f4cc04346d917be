import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isRateLimitKey, type RateLimitScope, rateLimitKey } from './rate-limit-key.ts';

test('keys name their scope and action', () => {
  assert.equal(rateLimitKey({ tenant: 'acme' }, 'search'), 't=acme/n=search');
  assert.equal(rateLimitKey({ client: '1.2.3.4' }, 'login'), 'c=1.2.3.4/n=login');
  assert.equal(rateLimitKey({ account: 'a@b' }, 'login'), 'a=a%40b/n=login');
  assert.equal(rateLimitKey({ client: '::1', tenant: 'acme' }, 'x'), 't=acme/c=%3A%3A1/n=x');
});

test('separators inside ids cannot make two scopes share a key', () => {
  const crafted: [RateLimitScope, string][] = [
    [{ tenant: 'a:b' }, 'search'],
    [{ tenant: 'a' }, 'b:search'],
    [{ tenant: 'a/n=b' }, 'search'],
    [{ tenant: 'a' }, 'b/n=search'],
    [{ tenant: 'a/c=b' }, 'search'],
    [{ tenant: 'a', client: 'b' }, 'search'],
    [{ account: 'a' }, 'search'],
    [{ client: 'a' }, 'search'],
    [{ tenant: 'a%2Fb' }, 'search'],
    [{ tenant: 'a/b' }, 'search'],
    [{ tenant: '{a}' }, 'search'],
  ];
  const keys = crafted.map(([scope, name]) => rateLimitKey(scope, name));
  assert.equal(new Set(keys).size, keys.length, keys.join('\n'));
  for (const key of keys) assert.ok(isRateLimitKey(key), key);
  assert.ok(!keys.some((k) => k.includes('{')), 'no Redis Cluster hash tags');
});

test('distinct (scope, name) pairs always give distinct keys', () => {
  const text = fc.string({
    minLength: 1,
    maxLength: 6,
    unit: fc.constantFrom('a', ':', '/', '=', '%', '2', 'F', 'n', 'u', 'D', '\ud800', '\udfff', '\u{1F600}'),
  });
  const scope = fc.oneof(
    fc.record({ tenant: text }),
    fc.record({ tenant: text, account: text }),
    fc.record({ account: text }),
    fc.record({ client: text }),
    fc.record({ tenant: text, client: text }),
  );
  fc.assert(
    fc.property(scope, text, scope, text, (s1, n1, s2, n2) => {
      const same = JSON.stringify([s1, n1]) === JSON.stringify([s2, n2]);
      return same === (rateLimitKey(s1, n1) === rateLimitKey(s2, n2));
    }),
    { numRuns: 2000 },
  );
});

test('unpaired surrogates (input read before validation) make a key, not a URIError', () => {
  assert.equal(rateLimitKey({ account: 'a\ud800b' }, 'login'), 'a=a%uD800b/n=login');
  assert.notEqual(rateLimitKey({ account: '\ud800' }, 'x'), rateLimitKey({ account: '\ud801' }, 'x'));
  assert.notEqual(rateLimitKey({ account: '\ud800' }, 'x'), rateLimitKey({ account: '%uD800' }, 'x'));
  assert.equal(rateLimitKey({ account: '\u{1F600}' }, 'x'), 'a=%F0%9F%98%80/n=x');
});

test('a key needs a scope and a name; unknown scope fields are refused', () => {
  assert.throws(() => rateLimitKey({} as RateLimitScope, 'x'), { code: 'HR_INVALID_OPTION' });
  assert.throws(() => rateLimitKey({ tenant: '' }, 'x'), { code: 'HR_INVALID_OPTION' });
  assert.throws(() => rateLimitKey({ tenant: 'a' }, ''), { code: 'HR_INVALID_OPTION' });
  assert.throws(() => rateLimitKey({ tenantId: 'a' } as unknown as RateLimitScope, 'x'), /scope\.tenantId/);
  assert.ok(!isRateLimitKey('acme:search'));
});
