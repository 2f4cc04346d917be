import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPassword, verifyPassword } from './passwords.ts';

test('a hash verifies its password and nothing else', async () => {
  const stored = await hashPassword('headroom-demo');
  assert.match(stored, /^scrypt\$16384\$8\$1\$/);
  assert.ok(await verifyPassword('headroom-demo', stored));
  assert.ok(!(await verifyPassword('headroom-dem0', stored)));
});

test('two hashes of one password differ (salted)', async () => {
  assert.notEqual(await hashPassword('x'), await hashPassword('x'));
});

test('missing or malformed hashes never verify', async () => {
  assert.ok(!(await verifyPassword('x', null)));
  assert.ok(!(await verifyPassword('x', 'md5$abc')));
});
