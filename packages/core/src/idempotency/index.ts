export type { IdempotencyErrorCode } from './errors.ts';
export { idempotencyErrors } from './errors.ts';
export type { FingerprintedRequest } from './fingerprint.ts';
export { canonicalJson, requestFingerprint } from './fingerprint.ts';
export type { IdempotencyOptions, IdempotencyScope, IdempotentReplay, IdempotentRun } from './idempotency.ts';
export { createIdempotency, Idempotency } from './idempotency.ts';
export { maxKeyLength, parseIdempotencyKey } from './idempotency-key.ts';
export { MemoryIdempotencyStore, memoryIdempotencyStore } from './memory-store.ts';
export type { BeginOutcome, BeginRequest, IdempotencyStore, Queryable, StoredResponse } from './store.ts';
