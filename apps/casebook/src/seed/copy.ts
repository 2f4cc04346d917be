// Bulk loading into PostgreSQL: COPY from generated lines (pg-copy-streams, with backpressure), and the
// deferral of secondary indexes and foreign keys that makes a large load several times faster.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** Bytes gathered before a write: large enough to amortise stream overhead, small enough to stay flat. */
const chunkSize = 64 * 1024;
const special = /[\\\t\n\r]/;

/**
 * Escapes text for COPY's text format: backslash, tab, newline and carriage return are the only
 * characters that need it.
 *
 * @example
 * `${id}\t${copyText(title)}\n`
 */
export function copyText(value: string): string {
  if (!special.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

/**
 * The text-format field for a nullable number: `\N` for NULL.
 *
 * @example
 * `${id}\t${copyNullable(ownerId)}\n`
 */
export function copyNullable(value: number | null): string {
  return value === null ? '\\N' : String(value);
}

export interface CopyOptions {
  /**
   * COPY ... (FREEZE): rows arrive frozen and all-visible, so the first reads set no hint bits and index-only
   * scans work at once. PostgreSQL allows it only when the table was created or truncated in the current
   * transaction. @default false
   */
  freeze?: boolean;
}

/**
 * COPYs `lines` (each a text-format row ending in a newline, produced lazily) into `table`; returns the count.
 *
 * @example
 * await copyLines(client, 'orgs', ['id', 'tenant_id', 'name'], ['1\t1\tRisk\n']);
 */
export async function copyLines(
  client: pg.PoolClient,
  table: string,
  columns: readonly string[],
  lines: Iterable<string>,
  options: CopyOptions = {},
): Promise<number> {
  let count = 0;
  function* chunks(): Generator<string> {
    let buffer = '';
    for (const line of lines) {
      buffer += line;
      count++;
      if (buffer.length >= chunkSize) {
        yield buffer;
        buffer = '';
      }
    }
    if (buffer) yield buffer;
  }
  const freeze = options.freeze ? ' (FREEZE)' : '';
  const sink = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN${freeze}`));
  // Readable.from pulls the generator only as fast as the connection drains: memory stays at a few chunks.
  await pipeline(Readable.from(chunks(), { objectMode: false }), sink);
  return count;
}

/** What `deferIndexes` took away, and puts back. */
export interface DeferredIndexes {
  /** Rebuilds the indexes, ANALYZEs the tables, then re-adds the foreign keys, each checked by one join. */
  restore(): Promise<void>;
}

/**
 * Drops the non-unique indexes and the foreign keys of `tables` inside the caller's transaction, as
 * PostgreSQL's "Populating a Database" advises: building an index once from sorted rows beats updating it
 * per row, and re-adding a foreign key checks every row in one anti-join instead of one lookup per row.
 * Primary keys and unique constraints stay, so duplicates still fail at once. A rollback undoes it all.
 *
 * @example
 * const deferred = await deferIndexes(client, ['cases', 'events']);
 * await copyLines(client, 'events', columns, rows);
 * await deferred.restore();
 */
export async function deferIndexes(
  client: pg.PoolClient,
  tables: readonly string[],
): Promise<DeferredIndexes> {
  const { rows: indexes } = await client.query<{ drop: string; create: string }>(
    `SELECT format('DROP INDEX %s', i.indexrelid::regclass) AS drop, pg_get_indexdef(i.indexrelid) AS create
     FROM pg_index i WHERE i.indrelid = ANY($1::text[]::regclass[]) AND NOT i.indisunique`,
    [tables],
  );
  const { rows: keys } = await client.query<{ drop: string; create: string }>(
    `SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS drop,
            format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
              AS create
     FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY($1::text[]::regclass[]) ORDER BY oid`,
    [tables],
  );
  for (const { drop } of [...keys, ...indexes]) await client.query(drop);
  return {
    async restore() {
      await client.query("SET LOCAL maintenance_work_mem = '256MB'");
      for (const index of indexes) await client.query(index.create);
      await client.query(`ANALYZE ${tables.join(', ')}`);
      for (const key of keys) await client.query(key.create);
    },
  };
}

/**
 * Moves each table's identity sequence past the largest id, so rows inserted later without an id (by the API)
 * do not collide with ids that were given explicitly.
 *
 * @example
 * await resetIdentities(client, ['cases', 'events']);
 */
export async function resetIdentities(client: pg.PoolClient, tables: readonly string[]): Promise<void> {
  for (const table of tables) {
    await client.query(
      `SELECT setval(pg_get_serial_sequence($1, 'id'), coalesce((SELECT max(id) FROM ${table}), 0) + 1, false)`,
      [table],
    );
  }
}
