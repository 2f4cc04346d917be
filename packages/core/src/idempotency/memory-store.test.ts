import { MemoryIdempotencyStore } from './memory-store.ts';
import { idempotencyStoreContract } from './store-contract.ts';

idempotencyStoreContract('memory store', () => new MemoryIdempotencyStore());
