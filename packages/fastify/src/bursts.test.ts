import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '@headroom/core/clock';
import { inBursts } from './bursts.ts';

test('the first event of a kind is logged, the rest of its window counted, the next logged with the count', () => {
  const clock = new FakeClock();
  const once = inBursts(clock, 10_000);
  const lines: string[] = [];
  const event = (key: string) => once(key, (suppressed) => lines.push(`${key}+${suppressed}`));
  event('fetch');
  event('fetch');
  event('fetch');
  event('reap');
  clock.advance(9_999);
  event('fetch');
  clock.advance(1);
  event('fetch');
  assert.deepEqual(lines, ['fetch+0', 'reap+0', 'fetch+3']);
});
