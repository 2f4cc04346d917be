import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { startRedis } from '../src/redis.ts';

const redis = await startRedis();

/** The next `event` of `emitter`, whatever errors it emits meanwhile. */
const next = (emitter: Redis, event: string) =>
  new Promise<void>((resolve) => emitter.once(event, () => resolve()));
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

    // events.once would reject on the 'error' the client emits as its reconnects are refused: listen for the event
    // alone (the run that failed in CI was that, not the server).
    const closed = next(client, 'close');
    await redis.kill();
    await closed;
    assert.equal(redis.running, false);
    await assert.rejects(client.get('k'), 'a killed server must not answer');

    const ready = next(client, 'ready');
    await redis.start();
    await ready;
    assert.equal(await client.get('k'), null, 'no persistence: the restarted server starts empty');
    await client.set('k', 'again');
    assert.equal(await client.get('k'), 'again');
  } finally {
    client.disconnect();
  }
});
