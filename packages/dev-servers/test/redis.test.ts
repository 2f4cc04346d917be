import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { startRedis } from '../src/redis.ts';

const redis = await startRedis();
after(() => redis.stop());

test('a real redis-server answers, dies, and comes back on the same port', async () => {
  const client = new Redis(redis.url, {
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.set('k', 'v');
    assert.equal(await client.get('k'), 'v');

    const closed = once(client, 'close');
    await redis.kill();
    await closed;
    assert.equal(redis.running, false);
    await assert.rejects(client.get('k'), 'a killed server must not answer');

    const ready = once(client, 'ready');
    await redis.start();
    await ready;
    assert.equal(await client.get('k'), null, 'no persistence: the restarted server starts empty');
    await client.set('k', 'again');
    assert.equal(await client.get('k'), 'again');
  } finally {
    client.disconnect();
  }
});
