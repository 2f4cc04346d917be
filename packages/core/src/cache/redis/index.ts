export type { RedisBusOptions } from './redis-bus.ts';
export { RedisBus, redisBus } from './redis-bus.ts';
export type { CacheRedisClients } from './redis-clients.ts';
export {
  createRedisClients,
  recommendedClientOptions,
  recommendedSubscriberOptions,
} from './redis-clients.ts';
export type { RedisStoreOptions } from './redis-store.ts';
export { RedisStore, redisStore } from './redis-store.ts';
