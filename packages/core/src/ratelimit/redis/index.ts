export { gcraScript } from './gcra-script.ts';
export type { RedisRateLimitStoreOptions } from './redis-store.ts';
export { RedisRateLimitStore, redisRateLimitStore } from './redis-store.ts';
