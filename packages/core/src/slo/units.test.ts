import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseRate, parseRatio } from './units.ts';

test('durations in every unit, and compound ones', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('30d'), 30 * 86_400_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500us'), 0.5);
  for (const bad of ['', '10', 'ms', '1 s', '-1s', '1w'])
    assert.throws(() => parseDuration(bad), /not a duration/);
});

test('ratios keep an exact decimal for PromQL', () => {
  assert.deepEqual(parseRatio('0.1%'), { value: 0.001, decimal: '0.001' });
  assert.deepEqual(parseRatio('99.9%'), { value: 0.999, decimal: '0.999' });
  assert.deepEqual(parseRatio('99.95%'), { value: 0.9995, decimal: '0.9995' });
  assert.deepEqual(parseRatio('0.001'), { value: 0.001, decimal: '0.001' });
  assert.deepEqual(parseRatio('5%'), { value: 0.05, decimal: '0.05' });
  assert.deepEqual(parseRatio('100%'), { value: 1, decimal: '1' });
  assert.deepEqual(parseRatio(0.25), { value: 0.25, decimal: '0.25' });
  for (const bad of ['1.5', '-1%', 'abc', '%']) assert.throws(() => parseRatio(bad), /not a ratio/);
});

test('rates per second', () => {
  assert.equal(parseRate('200/s'), 200);
  assert.equal(parseRate('600/m'), 10);
  assert.equal(parseRate('3600/h'), 1);
  assert.throws(() => parseRate('200'), /not a rate/);
});
