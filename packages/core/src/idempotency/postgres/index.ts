export type { Queryable } from '../store.ts';
export type { PostgresIdempotencyStoreOptions } from './postgres-store.ts';
export { idempotencyTableSql, PostgresIdempotencyStore, postgresIdempotencyStore } from './postgres-store.ts';
