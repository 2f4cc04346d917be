import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, OpenFeature } from '@openfeature/server-sdk';
import { createFlags } from './flags.ts';
import { openFeatureProvider } from './openfeature.ts';

test('through the OpenFeature server SDK: values, reasons and variants; an override and the degrader seen at once; errors as the spec says', async () => {
  const flags = createFlags({
    definitions: {
      suggestions: { default: true, rules: [{ tiers: ['free'], value: false }] },
      ranking: { type: 'variant', variants: ['classic', 'recency'], default: 'classic' },
    },
  });
  await OpenFeature.setProviderAndWait(openFeatureProvider(flags));
  const client = OpenFeature.getClient();
  try {
    const pro = await client.getBooleanDetails('suggestions', false, { tenant: '42', tier: 'pro' });
    assert.deepEqual([pro.value, pro.reason], [true, 'DEFAULT']);
    const free = await client.getBooleanDetails('suggestions', true, { targetingKey: '7', tier: 'free' });
    assert.deepEqual([free.value, free.reason], [false, 'TARGETING_MATCH']);
    flags.override('suggestions', { value: true, tenant: '7', by: 'ops', reason: 'x' });
    assert.equal(
      (await client.getBooleanDetails('suggestions', false, { targetingKey: '7', tier: 'free' })).reason,
      'STATIC',
    );
    flags.degrade('ranking', { by: 'degrader', reason: 'x', value: 'classic' });
    const ranking = await client.getStringDetails('ranking', 'recency', {});
    assert.deepEqual([ranking.value, ranking.variant, ranking.reason], ['classic', 'classic', 'DISABLED']);

    const missing = await client.getBooleanDetails('nope', true, {});
    assert.deepEqual([missing.value, missing.errorCode], [true, ErrorCode.FLAG_NOT_FOUND]);
    const wrongType = await client.getStringDetails('suggestions', 'x', {});
    assert.deepEqual([wrongType.value, wrongType.errorCode], ['x', ErrorCode.TYPE_MISMATCH]);
    const number = await client.getNumberDetails('suggestions', 3, {});
    assert.deepEqual([number.value, number.errorCode], [3, ErrorCode.TYPE_MISMATCH]);
  } finally {
    await OpenFeature.close();
  }
});
