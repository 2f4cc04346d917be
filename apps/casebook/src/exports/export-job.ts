// The export job: reads the cases an export asked for a page at a time and writes the file as chunks in
// export_chunks, so neither the rows nor the file are ever whole in memory, and any instance can serve it.

import type { JobHandler } from '@headroom/core/jobs';
import { type SearchRow, searchCountQuery, searchQuery } from '../cases/queries.ts';
import type { Queryable } from '../db/database.ts';
import { type ExportFormat, exportHeader, exportLine } from './formats.ts';

/** The queue exports run on. */
export const exportsQueue = 'exports';

/** What the job carries: the export's id (the rest is in its row). */
export interface ExportPayload {
  exportId: number;
  /** The W3C traceparent of the request that asked, when it was traced: the run's span links to it. */
  traceparent?: string;
}

export interface ExportJobOptions {
  /** Rows read per query. @default 1000 */
  pageSize?: number;
  /** Bytes per stored chunk. @default 262144 */
  chunkBytes?: number;
}

/**
 * The handler of the `exports` queue. A retry starts the file over (its earlier chunks are deleted first);
 * the result is `{ rows, bytes }`, also kept on the export's row.
 *
 * @example
 * jobs.work(exportsQueue, exportJob(db), { concurrency: 2 });
 */
export function exportJob(db: Queryable, options: ExportJobOptions = {}): JobHandler {
  const pageSize = options.pageSize ?? 1_000;
  const chunkBytes = options.chunkBytes ?? 256 * 1024;
  return async function runExport(job, signal) {
    const { exportId } = job.payload as ExportPayload;
    const found = (
      await db.query<{ tenant_id: number; format: ExportFormat; filter: { q?: string; status?: string } }>(
        'SELECT tenant_id, format, filter FROM exports WHERE id = $1 AND tenant_id::text = $2',
        [exportId, job.tenant],
      )
    ).rows[0];
    if (!found) return { rows: 0, bytes: 0, missing: true }; // deleted meanwhile: nothing to write
    const { tenant_id: tenantId, format, filter } = found;
    const scope = {
      tenantId,
      ...(filter.q === undefined ? {} : { q: filter.q }),
      ...(filter.status === undefined ? {} : { status: filter.status }),
    };
    await db.query('DELETE FROM export_chunks WHERE export_id = $1', [exportId]);
    const total = (await db.query<{ n: number }>(searchCountQuery(scope))).rows[0]?.n ?? 0;

    let pending = exportHeader(format);
    let seq = 0;
    let bytes = 0;
    let rows = 0;
    const flush = async () => {
      if (pending.length === 0) return;
      const data = Buffer.from(pending);
      pending = '';
      await db.query('INSERT INTO export_chunks (export_id, seq, data) VALUES ($1, $2, $3)', [
        exportId,
        seq++,
        data,
      ]);
      bytes += data.length;
    };
    let after: { at: string; id: number } | undefined;
    for (;;) {
      signal.throwIfAborted();
      const page = (
        await db.query<SearchRow>(searchQuery({ ...scope, ...(after ? { after } : {}), fetch: pageSize }))
      ).rows;
      for (const row of page) {
        pending += exportLine(format, row);
        if (pending.length >= chunkBytes) await flush();
      }
      rows += page.length;
      if (page.length < pageSize) break;
      const last = page.at(-1)!;
      after = { at: last.sort_at, id: last.id };
      await job.progress(total === 0 ? 99 : Math.min(99, (rows / total) * 100), `${rows} of ${total} rows`);
    }
    await flush();
    await db.query('UPDATE exports SET rows = $2, bytes = $3 WHERE id = $1', [exportId, rows, bytes]);
    return { rows, bytes };
  };
}
