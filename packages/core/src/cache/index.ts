export { Cache, createCache } from './cache.ts';
export type {
  CacheBusEvent,
  CacheErrorEvent,
  CacheLoadEvent,
  CacheRequestEvent,
  CacheResult,
  CacheStats,
  CacheTier,
} from './cache-events.ts';
export type { CacheKey, CacheScope, KeyPart } from './cache-key.ts';
export { cacheKey, GLOBAL, scopedTags, scopeOfKey } from './cache-key.ts';
export type { CacheOptions, EntryOptions, GetOrSetOptions } from './cache-options.ts';
export { defaultL2Breaker } from './default-breaker.ts';
export type { CachedEntry, Serializer, StoredEntry } from './entry.ts';
export { bytesEtag, jsonSerializer } from './entry.ts';
export type { CacheErrorCode } from './errors.ts';
export { cacheErrorCodes, cacheErrors, isCacheLoadTimeoutError } from './errors.ts';
export type { MemoryBus } from './memory-bus.ts';
export { memoryBus } from './memory-bus.ts';
export type { MemoryStoreOptions } from './memory-store.ts';
export { MemoryStore, memoryStore } from './memory-store.ts';
export type { LoadContext, Loader } from './run-loader.ts';
export type { BusMessage, CacheBus, CacheStore, StoreSetOptions, StoreSetResult } from './store.ts';
