// Correctly configured ioredis clients for the cache: bounded commands, no offline queue, fast reconnects.

import { Redis, type RedisOptions } from 'ioredis';

/**
 * Options the cache's command client should have. `commandTimeout` bounds every command (a slow or hung Redis
 * costs at most that much per call, and the breaker opens after a few); `enableOfflineQueue: false` fails commands
 * at once while disconnected instead of queueing them; `maxRetriesPerRequest: 1` stops a command from riding
 * through many reconnects; reconnects retry forever with a capped delay, so recovery needs no restart.
 *
 * @example
 * const client = new Redis(url, { ...recommendedClientOptions, commandTimeout: 100 });
 */
export const recommendedClientOptions: Readonly<RedisOptions> = Object.freeze({
  commandTimeout: 250,
  connectTimeout: 2_000,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1_000),
});

/**
 * Options of the subscriber connection: it must queue its SUBSCRIBE until connected and never time out while it
 * waits for messages; `autoResubscribe` brings the channels back after a reconnect.
 *
 * @example
 * const subscriber = new Redis(url, recommendedSubscriberOptions);
 */
export const recommendedSubscriberOptions: Readonly<RedisOptions> = Object.freeze({
  connectTimeout: 2_000,
  enableOfflineQueue: true,
  autoResubscribe: true,
  maxRetriesPerRequest: null,
  retryStrategy: (attempt: number) => Math.min(50 * 2 ** attempt, 1_000),
});

/** The two connections a Redis-backed cache uses. */
export interface CacheRedisClients {
  client: Redis;
  subscriber: Redis;
  /** Resolves once both are connected (commands fail fast before that: there is no offline queue). */
  ready(): Promise<void>;
  /** Closes both. */
  quit(): Promise<void>;
}

/**
 * Creates the command client and the subscriber with the recommended options (overrides apply to both). Errors
 * are passed to `onError` (connection errors while Redis is down are expected; the cache counts its own).
 *
 * @example
 * const redis = createRedisClients(process.env.REDIS_URL!, { onError: (e) => log.warn(e, 'redis') });
 * const cache = createCache({ l2: redisStore({ client: redis.client }), bus: redisBus(redis) });
 */
export function createRedisClients(
  url: string,
  options: { overrides?: RedisOptions; onError?: (error: Error) => void } = {},
): CacheRedisClients {
  const client = new Redis(url, { ...recommendedClientOptions, ...options.overrides });
  const subscriber = new Redis(url, { ...recommendedSubscriberOptions, ...options.overrides });
  const onError = options.onError ?? (() => {});
  client.on('error', onError);
  subscriber.on('error', onError);
  const connected = (redis: Redis) =>
    redis.status === 'ready'
      ? Promise.resolve()
      : new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  return {
    client,
    subscriber,
    async ready() {
      await Promise.all([connected(client), connected(subscriber)]);
    },
    async quit() {
      await Promise.allSettled([client.quit(), subscriber.quit()]);
    },
  };
}
