import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cacheBusContract } from './bus-contract.ts';
import { memoryBus } from './memory-bus.ts';

// In one process the two "instances" are one bus, as every cache sharing a memory store shares its bus.
cacheBusContract('memoryBus', async () => {
  const bus = memoryBus();
  return { a: bus, b: bus, close: () => bus.close() };
});

test('while down, messages are dropped; coming back fires onReconnect once', async () => {
  const bus = memoryBus();
  const heard: string[] = [];
  let reconnects = 0;
  bus.subscribe((m) => heard.push(m.type));
  bus.onReconnect(() => reconnects++);
  bus.setHealthy(false);
  await bus.publish({ type: 'clear', origin: 'a', sentAt: 0, cache: 'c' });
  bus.setHealthy(true);
  bus.setHealthy(true);
  await bus.publish({ type: 'clear', origin: 'a', sentAt: 1, cache: 'c' });
  await Promise.resolve();
  assert.deepEqual(heard, ['clear']);
  assert.equal(reconnects, 1);
});

test('a closed bus drops what is published and stays unhealthy', async () => {
  const bus = memoryBus();
  const heard: string[] = [];
  bus.subscribe((m) => heard.push(m.type));
  await bus.close();
  bus.setHealthy(true);
  await bus.publish({ type: 'clear', origin: 'a', sentAt: 0, cache: 'c' });
  await Promise.resolve();
  assert.deepEqual(heard, []);
  assert.equal(bus.healthy, false);
});
