export type { RedisIdempotencyStoreOptions } from './redis-store.ts';
export { RedisIdempotencyStore, redisIdempotencyStore } from './redis-store.ts';
