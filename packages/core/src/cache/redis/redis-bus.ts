// redisBus: the cache's invalidation bus on Redis pub/sub, with health tracking so the cache knows when it may have
// missed messages.

import type { Redis } from 'ioredis';
import { invalidOption } from '../../errors/index.ts';
import { type Disposable, Emitter } from '../../shared/events.ts';
import type { BusMessage, CacheBus } from '../store.ts';

/** Options of `redisBus`. */
export interface RedisBusOptions {
  /** Publishes; the cache's command client will do (bounded by its `commandTimeout`). */
  client: Redis;
  /** A dedicated connection in subscriber mode, with `autoResubscribe` (the default) so it resubscribes after a
   * reconnect. It must not be used for anything else. */
  subscriber: Redis;
  /** @default 'hr:cache:bus' */
  channel?: string;
}

/**
 * The Redis bus; create it with `redisBus(options)`. `healthy` is true while the subscription stands. After the
 * subscriber reconnects (ioredis resubscribes by itself: `autoResubscribe`), the bus subscribes once more to be sure
 * the channel is back, then fires `onReconnect`, and caches drop their L1: invalidations sent while it was down
 * never arrived.
 *
 * @example
 * const bus = new RedisBus({ client, subscriber });
 * await bus.ready;
 */
export class RedisBus implements CacheBus {
  readonly #client: Redis;
  readonly #subscriber: Redis;
  readonly #channel: string;
  readonly #messages = new Emitter<BusMessage>();
  readonly #reconnects = new Emitter<undefined>();
  #healthy = false;
  #wasDown = false;
  #closed = false;
  /** Resolves once the first subscription stands. */
  readonly ready: Promise<void>;

  readonly #onMessage = (channel: string, text: string) => {
    if (channel !== this.#channel) return;
    let message: BusMessage;
    try {
      message = JSON.parse(text) as BusMessage;
    } catch {
      return; // not ours
    }
    this.#messages.emit(message);
  };
  readonly #onClose = () => {
    if (this.#healthy) this.#wasDown = true;
    this.#healthy = false;
  };
  readonly #onReady = () => {
    if (this.#closed) return;
    this.#subscriber.subscribe(this.#channel).then(
      () => {
        if (this.#closed) return;
        this.#healthy = true;
        if (this.#wasDown) {
          this.#wasDown = false;
          this.#reconnects.emit(undefined);
        }
      },
      () => {}, // the connection dropped again; the next 'ready' retries
    );
  };

  constructor(options: RedisBusOptions) {
    const { client, subscriber, channel = 'hr:cache:bus' } = options ?? ({} as RedisBusOptions);
    if (typeof client?.publish !== 'function')
      throw invalidOption('redisBus', 'client', 'an ioredis client', client);
    if (typeof subscriber?.subscribe !== 'function' || subscriber === client) {
      throw invalidOption('redisBus', 'subscriber', 'a dedicated ioredis client', subscriber);
    }
    this.#client = client;
    this.#subscriber = subscriber;
    this.#channel = channel;
    subscriber.on('message', this.#onMessage);
    subscriber.on('close', this.#onClose);
    subscriber.on('ready', this.#onReady);
    // A subscription that completes after close() (a busy machine) must not make a closed bus healthy again.
    this.ready = subscriber.subscribe(channel).then(() => {
      if (!this.#closed) this.#healthy = true;
    });
    this.ready.catch(() => {}); // not subscribed yet: healthy stays false until 'ready'
  }

  get healthy(): boolean {
    return this.#healthy && this.#subscriber.status === 'ready';
  }

  async publish(message: BusMessage): Promise<void> {
    await this.#client.publish(this.#channel, JSON.stringify(message));
  }

  subscribe(listener: (message: BusMessage) => void): Disposable {
    return this.#messages.subscribe(listener);
  }

  onReconnect(listener: () => void): Disposable {
    return this.#reconnects.subscribe(() => listener());
  }

  /** Unsubscribes and detaches from the clients; the clients stay open (they are the caller's). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#healthy = false;
    this.#subscriber.off('message', this.#onMessage);
    this.#subscriber.off('close', this.#onClose);
    this.#subscriber.off('ready', this.#onReady);
    await this.#subscriber.unsubscribe(this.#channel).catch(() => {});
  }
}

/**
 * An invalidation bus on Redis pub/sub. Messages carry the sender's instance id and wall-clock send time, so each
 * instance skips its own echo and measures the lag.
 *
 * @example
 * const { client, subscriber } = createRedisClients(url);
 * const bus = redisBus({ client, subscriber });
 * const cache = createCache({ name: 'cases', l2: redisStore({ client }), bus });
 */
export function redisBus(options: RedisBusOptions): RedisBus {
  return new RedisBus(options);
}
