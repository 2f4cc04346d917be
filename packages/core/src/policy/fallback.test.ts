import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAbortedError } from '../errors/index.ts';
import { fallback } from './fallback.ts';

test('answers with the substitute on failure, and only for the errors `when` accepts', async () => {
  const used: unknown[] = [];
  const policy = fallback({
    to: (e) => `stale because ${(e as Error).message}`,
    when: (e) => !(e instanceof TypeError),
  });
  policy.onFallback((e) => used.push(e.error));
  assert.equal(await policy.execute(() => 'fresh'), 'fresh');
  assert.equal(await policy.execute(() => Promise.reject(new Error('502'))), 'stale because 502');
  await assert.rejects(
    policy.execute(() => Promise.reject(new TypeError('a bug'))),
    TypeError,
  );
  assert.equal(used.length, 1);
});

test("does not cover the caller's own abort", async () => {
  const controller = new AbortController();
  controller.abort();
  const policy = fallback({ to: () => 'substitute' });
  await assert.rejects(
    policy.execute(({ signal }) => Promise.reject(signal.reason), controller.signal),
    isAbortedError,
  );
});
