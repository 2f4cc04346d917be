// Streams generated rows into PostgreSQL with COPY (pg-copy-streams): the fastest way in, with backpressure.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** A value of a COPY text-format column. */
export type CopyValue = string | number | boolean | null | Date;

/** Escapes one value for COPY's text format (tab-separated, \N for NULL). */
function field(value: CopyValue): string {
  if (value === null) return '\\N';
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== 'string') return String(value);
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

/**
 * COPYs the rows of `rows` (an iterable producing one array per row) into `table`; returns the row count.
 *
 * @example
 * await copyRows(client, 'orgs', ['id', 'tenant_id', 'name'], [[1, 1, 'Risk']]);
 */
export async function copyRows(
  client: pg.PoolClient,
  table: string,
  columns: readonly string[],
  rows: Iterable<CopyValue[]>,
): Promise<number> {
  let count = 0;
  function* chunks(): Generator<string> {
    let buffer = '';
    for (const row of rows) {
      buffer += `${row.map(field).join('\t')}\n`;
      count++;
      if (buffer.length > 256 * 1024) {
        yield buffer;
        buffer = '';
      }
    }
    if (buffer) yield buffer;
  }
  const sink = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(chunks(), { objectMode: false }), sink);
  return count;
}
