// What a cache does with the messages of the other instances on its bus: observe tag versions, drop L1 entries
// they replaced, and wake the loads waiting on theirs.

import type { Disposable } from '../shared/events.ts';
import type { CacheCore } from './cache-core.ts';
import type { RemoteWaits } from './remote-waits.ts';
import type { BusMessage, CacheBus } from './store.ts';

/**
 * Subscribes the cache to `bus`. `onReconnect` runs when the subscription comes back after a drop: messages may
 * have been missed meanwhile, so L1 and the known tag versions may be stale.
 */
export function listenToBus(
  core: CacheCore,
  bus: CacheBus,
  waits: RemoteWaits,
  onReconnect: () => void,
): Disposable[] {
  return [
    bus.subscribe((message) => receive(core, waits, message)),
    bus.onReconnect(() => {
      core.s.busReconnects++;
      onReconnect();
    }),
  ];
}

function receive(core: CacheCore, waits: RemoteWaits, message: BusMessage): void {
  if (message.origin === core.instanceId) return; // our own echo
  const lag = Math.max(0, core.clock.now() - message.sentAt);
  const s = core.s;
  s.busReceived++;
  s.lastLagMs = lag;
  s.lagTotal += lag;
  if (lag > s.maxLagMs) s.maxLagMs = lag;
  core.events.busMessage(message.type, lag);
  if (message.type === 'tags') {
    core.tags.observe(message.tags, message.versions);
    return;
  }
  if (message.cache !== core.name) return;
  if (message.type === 'clear') {
    core.l1.clear();
    return;
  }
  for (const storeKey of message.keys) {
    if (message.type !== 'released') core.l1.delete(storeKey.slice(core.prefix.length));
    waits.wake(storeKey, message.type === 'released' ? 'released' : 'set');
  }
}
