// Exports of a tenant's cases (seed 002, journey 4): requested with an Idempotency-Key, run as a job enqueued in
// the request's transaction, polled with ETags or followed as Server-Sent Events, downloaded as a stream.

import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Clock } from '@headroom/core/clock';
import type { Flags } from '@headroom/core/flags';
import type { Jobs } from '@headroom/core/jobs';
import type { BulkheadPolicy } from '@headroom/core/policy';
import { currentTraceparent, overloadedError, type RouteIdempotency } from '@headroom/fastify';
import { Type } from 'typebox';
import { CaseStatus } from '../cases/schemas.ts';
import type { Database, Queryable } from '../db/database.ts';
import { casebookErrors } from '../errors.ts';
import { flagContext } from '../flags.ts';
import { tenantData } from '../http/cache-policy.ts';
import { acceptsIdempotencyKey, jsonType } from '../http/idempotency.ts';
import { IdParams } from '../http/params.ts';
import { notFound } from '../http/problems.ts';
import type { SettingsSource } from '../settings.ts';
import { type ExportPayload, exportsQueue } from './export-job.ts';
import { type ExportFormat, exportMediaTypes } from './formats.ts';

export interface ExportRoutesOptions {
  /** Export concurrency per tier in force (casebook.yaml). */
  settings: SettingsSource;
  db: Database;
  jobs: Jobs;
  clock: Clock;
  /** Event streams open at once in this process (each holds a connection for minutes). */
  streams: BulkheadPolicy;
  /** How often an event stream looks at the export (ms). @default 500 */
  pollInterval?: number;
  /** How long an event stream lasts at most before the client reconnects (ms). @default 300_000 */
  streamLimit?: number;
  /** New exports are refused while the `exports` flag is off. @default always on */
  flags?: Flags;
}

const CreateExportBody = Type.Object(
  {
    kind: Type.Literal('cases'),
    format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')]),
    filter: Type.Optional(
      Type.Object(
        {
          q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          status: Type.Optional(CaseStatus),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** An export needs a key: a retried request must not start a second export. */
const requiresIdempotencyKey: RouteIdempotency = { ...acceptsIdempotencyKey, required: true };

/** What a client sees of an export. */
interface ExportView {
  id: number;
  kind: string;
  format: ExportFormat;
  status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
  progress: number;
  message: string | null;
  created_at: string;
  finished_at: string | null;
  rows: number | null;
  bytes: number | null;
  error: string | null;
}

const terminal = new Set(['done', 'failed', 'cancelled']);

/** What a client sees of the export job's state. */
const statusOfJob: Record<string, ExportView['status']> = {
  running: 'running',
  done: 'done',
  dead: 'failed',
  cancelled: 'cancelled',
};

async function readExport(db: Queryable, tenantId: number, id: number): Promise<ExportView | undefined> {
  const row = (
    await db.query({
      name: 'export-status',
      text: `SELECT e.id, e.kind, e.format, e.rows, e.bytes, e.created_at, j.state, j.progress, j.message, j.finished_at
             FROM exports e LEFT JOIN headroom.jobs j ON j.id = e.job_id
             WHERE e.tenant_id = $1 AND e.id = $2`,
      values: [tenantId, id],
    })
  ).rows[0];
  if (!row) return undefined;
  // A job not there (swept after its retention) or ready: the row still says what was asked, and it is queued.
  const status = statusOfJob[row.state as string] ?? 'queued';
  return {
    id: Number(row.id),
    kind: row.kind,
    format: row.format,
    status,
    progress: status === 'done' ? 100 : Number(row.progress ?? 0),
    message: status === 'failed' ? null : (row.message ?? null),
    created_at: (row.created_at as Date).toISOString(),
    finished_at: row.finished_at === null ? null : new Date(Number(row.finished_at)).toISOString(),
    rows: row.rows === null ? null : Number(row.rows),
    bytes: row.bytes === null ? null : Number(row.bytes),
    // The job's own error stays in the log and the admin API: it may name internals.
    error: status === 'failed' ? 'the export failed; request a new one' : null,
  };
}

export const exportRoutes: FastifyPluginAsyncTypebox<ExportRoutesOptions> = async (app, options) => {
  const { db, jobs, clock, streams } = options;
  const pollInterval = options.pollInterval ?? 500;
  const streamLimit = options.streamLimit ?? 300_000;

  app.post(
    '/v1/exports',
    { schema: { body: CreateExportBody }, config: { idempotency: requiresIdempotencyKey } },
    async (request, reply) => {
      if (options.flags && !options.flags.enabled('exports', flagContext(request.principal))) {
        throw casebookErrors.create(
          'HR_FEATURE_DISABLED',
          'exports are turned off for now; try again later',
          {
            headers: { 'retry-after': '60' },
            context: { feature: 'exports' },
          },
        );
      }
      await jobs.assertRunning(exportsQueue);
      const { tenantId, userId, tier } = request.principal;
      const { kind, format, filter = {} } = request.body;
      const idempotency = request.idempotency;
      const created = await db.transaction(async (tx) => {
        const id = Number(
          (
            await tx.query(
              `INSERT INTO exports (tenant_id, user_id, kind, format, filter, created_at)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
              [tenantId, userId, kind, format, JSON.stringify(filter), new Date(clock.now())],
            )
          ).rows[0]!.id,
        );
        // The request's traceparent rides along, so the export's run links back to the request that asked.
        const traceparent = currentTraceparent();
        const payload: ExportPayload = { exportId: id, ...(traceparent ? { traceparent } : {}) };
        const job = await jobs.enqueue(tx, exportsQueue, payload, {
          tenant: String(tenantId),
          tenantLimit: options.settings.get().tiers[tier].exportConcurrency,
        });
        await tx.query('UPDATE exports SET job_id = $2 WHERE id = $1', [id, job.id]);
        const body = JSON.stringify({ id, status: 'queued' });
        const headers = { location: `/v1/exports/${id}`, 'content-type': jsonType };
        await idempotency?.completeWithin(tx, 202, body, headers);
        return { body, headers };
      });
      return reply.code(202).header('location', created.headers.location).type(jsonType).send(created.body);
    },
  );

  app.get(
    '/v1/exports/:id',
    { schema: { params: IdParams }, config: { httpCache: tenantData } },
    async (request, reply) => {
      const view = await readExport(db, request.principal.tenantId, request.params.id);
      if (!view) throw notFound('export', request.params.id);
      if (!terminal.has(view.status)) reply.header('retry-after', '1');
      return view;
    },
  );

  // A stream of `status` events, one at once and one per change, until the export ends (then the stream
  // ends), the client goes, or `streamLimit` passes (the client reconnects). Outside the door's limit: each
  // stream holds its connection for minutes, so streams have their own bound.
  app.get(
    '/v1/exports/:id/events',
    { schema: { params: IdParams }, config: { overload: false } },
    async (request, reply) => {
      const { tenantId } = request.principal;
      const id = request.params.id;
      let view = await readExport(db, tenantId, id);
      if (!view) throw notFound('export', id);
      const permit = streams.tryAcquire(String(tenantId));
      if (!permit) throw overloadedError(streams.name, undefined, '5');
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-request-id': request.id,
        'x-accel-buffering': 'no', // asks nginx not to buffer the stream (not tried behind nginx here)
      });
      let closed = false;
      res.once('close', () => {
        closed = true;
      });
      const until = clock.monotonic() + streamLimit;
      let sent = '';
      let seq = 0;
      try {
        while (!closed) {
          const text = JSON.stringify(view);
          if (text !== sent) {
            res.write(`event: status\nid: ${++seq}\ndata: ${text}\n\n`);
            sent = text;
          }
          if (terminal.has(view!.status) || clock.monotonic() >= until) break;
          await new Promise((resolve) => clock.setTimeout(() => resolve(undefined), pollInterval));
          if (closed) break;
          view = await readExport(db, tenantId, id);
          if (!view) break;
        }
      } catch (error) {
        request.log.warn({ err: error }, 'export event stream ended early');
      } finally {
        permit.release();
        if (!closed) res.end();
      }
    },
  );

  app.get('/v1/exports/:id/download', { schema: { params: IdParams } }, async (request, reply) => {
    const view = await readExport(db, request.principal.tenantId, request.params.id);
    if (!view) throw notFound('export', request.params.id);
    if (view.status !== 'done') {
      throw casebookErrors.create('HR_EXPORT_NOT_READY', `export ${view.id} is ${view.status}, not done`, {
        headers: terminal.has(view.status) ? {} : { 'retry-after': '1' },
        context: { status: view.status },
      });
    }
    const extension = view.format === 'csv' ? 'csv' : 'ndjson';
    return reply
      .type(exportMediaTypes[view.format])
      .header('content-disposition', `attachment; filename="cases-export-${view.id}.${extension}"`)
      .send(Readable.from(chunks(db, view.id)));
  });
};

/** The stored file, one chunk per query: never more than a chunk in memory. */
async function* chunks(db: Queryable, exportId: number): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const row = (
      await db.query({
        name: 'export-chunk',
        text: 'SELECT data FROM export_chunks WHERE export_id = $1 AND seq = $2',
        values: [exportId, seq],
      })
    ).rows[0];
    if (!row) return;
    yield row.data as Buffer;
  }
}
