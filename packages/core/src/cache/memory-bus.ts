// memoryBus: a CacheBus within one process, so several cache instances sharing a memory store behave like
// several processes sharing Redis (for tests and for apps running more than one cache on one store).

import { type Disposable, Emitter } from '../shared/events.ts';
import type { BusMessage, CacheBus } from './store.ts';

/**
 * Delivers every published message to every subscriber, the publisher included (caches skip their own echo by
 * `origin`, as they must with Redis). Delivery is asynchronous (a microtask), like a network bus.
 *
 * @example
 * const bus = new MemoryBus();
 * bus.subscribe((m) => console.log(m.type));
 */
export class MemoryBus implements CacheBus {
  readonly #messages = new Emitter<BusMessage>();
  readonly #reconnects = new Emitter<undefined>();
  #healthy = true;
  #closed = false;

  get healthy(): boolean {
    return this.#healthy && !this.#closed;
  }

  async publish(message: BusMessage): Promise<void> {
    if (!this.#healthy || this.#closed) return;
    queueMicrotask(() => this.#messages.emit(message));
  }

  subscribe(listener: (message: BusMessage) => void): Disposable {
    return this.#messages.subscribe(listener);
  }

  onReconnect(listener: () => void): Disposable {
    return this.#reconnects.subscribe(() => listener());
  }

  /** Test hook: while down, messages are dropped; coming back up fires `onReconnect`. */
  setHealthy(healthy: boolean): void {
    if (this.#closed) return;
    const recovered = healthy && !this.#healthy;
    this.#healthy = healthy;
    if (recovered) this.#reconnects.emit(undefined);
  }

  /** Stops delivering: a closed bus drops what is published and is never healthy again. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}

/**
 * Creates an in-process bus; hand the same one to every cache that shares a memory store.
 *
 * @example
 * const l2 = memoryStore();
 * const bus = memoryBus();
 * const a = createCache({ name: 'cases', l2, bus });
 * const b = createCache({ name: 'cases', l2, bus });
 */
export function memoryBus(): MemoryBus {
  return new MemoryBus();
}
