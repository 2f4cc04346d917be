export type { PostgresIdempotencyStoreOptions, Queryable } from './postgres-store.ts';
export { idempotencyTableSql, PostgresIdempotencyStore, postgresIdempotencyStore } from './postgres-store.ts';
