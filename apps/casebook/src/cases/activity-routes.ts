// A case's activity: its timeline of events and its comments, both newest first with keyset cursors.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Cache, cacheKey } from '@headroom/core/cache';
import type { Clock } from '@headroom/core/clock';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Database } from '../db/database.ts';
import { tenantData } from '../http/cache-policy.ts';
import {
  caseTag,
  invalidateCase,
  readCaching,
  readEntry,
  sendEntry,
  tenantScope,
} from '../http/cached-reads.ts';
import { type Cursor, decodeCursor, maxIntegerId, page } from '../http/cursor.ts';
import { PagedList, responses } from '../http/envelope.ts';
import { acceptsIdempotencyKey, createOnce, jsonType } from '../http/idempotency.ts';
import { IdParams } from '../http/params.ts';
import { notFound } from '../http/problems.ts';
import type { SettingsSource } from '../settings.ts';
import { pageSize } from '../tenancy/tiers.ts';
import { type PublishEvent, publishNothing } from '../webhooks/events.ts';
import { activityPageQuery, commentColumns, timelineColumns } from './queries.ts';
import { Comment, PageQuery, TimelineEvent } from './schemas.ts';

export interface ActivityRoutesOptions {
  /** Page caps and cache times in force (casebook.yaml). */
  settings: SettingsSource;
  db: Database;
  clock: Clock;
  /** First pages are cached under the case's tag; a comment invalidates it. */
  cache: Cache | undefined;
  /** A comment publishes `comment.created` here, in its transaction. @default none */
  publish?: PublishEvent;
}

const CommentBody = Type.Object(
  { body: Type.String({ minLength: 1, maxLength: 10_000 }) },
  { additionalProperties: false },
);

export const activityRoutes: FastifyPluginAsyncTypebox<ActivityRoutesOptions> = async (
  app,
  { db, clock, cache, settings, publish = publishNothing },
) => {
  async function list(
    table: 'events' | 'comments',
    columns: string[],
    timeColumn: string,
    request: { principal: { tenantId: number; tier: 'free' | 'pro' | 'enterprise' }; params: { id: number } },
    query: { limit?: number; cursor?: string },
  ) {
    const limit = pageSize(settings, request.principal.tier, query.limit);
    // events.id is a bigint, comments.id an integer: a cursor's id must fit its column.
    const maxId = table === 'events' ? Number.MAX_SAFE_INTEGER : maxIntegerId;
    const after: Cursor | undefined = query.cursor ? decodeCursor(query.cursor, maxId) : undefined;
    const values: unknown[] = [request.principal.tenantId, request.params.id, limit + 1];
    if (after) values.push(after.at, after.id);
    const { rows } = await db.query<
      Record<string, unknown> & { id: number | string | null; sort_at: string }
    >({
      name: `${table}-page-${after ? 'c' : '_'}`,
      text: activityPageQuery(table, columns, timeColumn, after !== undefined),
      values,
    });
    if (rows.length === 0) throw notFound('case', request.params.id);
    const found = rows.filter((row) => row.id !== null).map((row) => ({ ...row, id: Number(row.id) }));
    return page(
      found,
      limit,
      (row) => row.sort_at,
      ({ sort_at: _, ...rest }) => rest,
    );
  }

  // First pages (the ones people look at) are cached under the case's tag; later pages go to PostgreSQL.
  async function firstPageCached<R extends FastifyReply>(
    table: 'events' | 'comments',
    columns: string[],
    timeColumn: string,
    request: Parameters<typeof list>[3],
    query: Parameters<typeof list>[4],
    reply: R,
  ): Promise<R> {
    if (query.cursor) {
      reply.send(await list(table, columns, timeColumn, request, query));
      return reply;
    }
    const { tenantId, tier } = request.principal;
    const id = request.params.id;
    const key = cacheKey(tenantScope(tenantId), 'case', id, table, pageSize(settings, tier, query.limit));
    const entry = await readEntry(cache, key, () => list(table, columns, timeColumn, request, query), {
      ...readCaching(settings.get().cache),
      tags: [caseTag(id)],
    });
    return sendEntry(reply, entry, clock.now());
  }

  app.get(
    '/v1/cases/:id/timeline',
    {
      schema: { params: IdParams, querystring: PageQuery, ...responses({ 200: PagedList(TimelineEvent) }) },
      config: { httpCache: tenantData },
    },
    (request, reply) =>
      firstPageCached('events', timelineColumns, 'occurred_at', request, request.query, reply),
  );

  app.get(
    '/v1/cases/:id/comments',
    {
      schema: { params: IdParams, querystring: PageQuery, ...responses({ 200: PagedList(Comment) }) },
      config: { httpCache: tenantData },
    },
    (request, reply) =>
      firstPageCached('comments', commentColumns, 'created_at', request, request.query, reply),
  );

  app.post(
    '/v1/cases/:id/comments',
    {
      schema: { params: IdParams, body: CommentBody, ...responses({ 201: Comment }) },
      config: { idempotency: acceptsIdempotencyKey },
    },
    async (request, reply) => {
      const { tenantId, userId } = request.principal;
      const now = new Date(clock.now());
      const created = await createOnce(db, request, async (tx) => {
        const { rows } = await tx.query<{ id: number; author_id: number; body: string; created_at: Date }>(
          `WITH target AS (SELECT id FROM cases WHERE tenant_id = $1 AND id = $2),
       inserted AS (
         INSERT INTO comments (tenant_id, case_id, author_id, body, created_at)
         SELECT $1, id, $3, $4, $5 FROM target RETURNING ${commentColumns.join(', ')}
       ),
       event AS (
         INSERT INTO events (tenant_id, case_id, kind, summary, actor_id, occurred_at)
         SELECT $1, $2, 'comment_added', left(body, 120), $3, $5 FROM inserted
       )
       SELECT * FROM inserted`,
          [tenantId, request.params.id, userId, request.body.body, now],
        );
        const row = rows[0];
        if (!row) throw notFound('case', request.params.id);
        await publish(tx, tenantId, 'comment.created', { ...row, case_id: request.params.id });
        return { status: 201, body: JSON.stringify(row), headers: { 'content-type': jsonType } };
      });
      await invalidateCase(cache, tenantId, request.params.id, { search: false });
      return reply.code(201).type(jsonType).send(created.body);
    },
  );
};
