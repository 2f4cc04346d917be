// Case search, detail, create and update.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Cache, cacheKey, type GetOrSetOptions } from '@headroom/core/cache';
import type { Clock } from '@headroom/core/clock';
import type { HeadroomError } from '@headroom/core/errors';
import type { Flags } from '@headroom/core/flags';
import type { BulkheadPolicy } from '@headroom/core/policy';
import { phaseSync } from '@headroom/fastify';
import type { Database, Queryable } from '../db/database.ts';
import { casebookErrors } from '../errors.ts';
import { flagContext } from '../flags.ts';
import { tenantData } from '../http/cache-policy.ts';
import {
  caseTag,
  invalidateCase,
  isStale,
  readCaching,
  readEntry,
  searchTag,
  sendEntry,
  sendJson,
  tenantScope,
} from '../http/cached-reads.ts';
import { decodeCursor, page } from '../http/cursor.ts';
import { PagedList, responses } from '../http/envelope.ts';
import {
  digest,
  ifMatchTags,
  staleEtag,
  type VersionTag,
  versionedEtag,
  versionedEtagOf,
} from '../http/etag.ts';
import { acceptsIdempotencyKey, createOnce, jsonType } from '../http/idempotency.ts';
import { IdParams } from '../http/params.ts';
import { notFound, rethrowForeignKey } from '../http/problems.ts';
import { memoBy } from '../memo.ts';
import { limited } from '../protection/limits.ts';
import type { Settings, SettingsSource } from '../settings.ts';
import { pageSize } from '../tenancy/tiers.ts';
import { type PublishEvent, publishNothing } from '../webhooks/events.ts';
import {
  type CaseRow,
  detailForUpdate,
  detailQueries,
  type ExpandDepth,
  insertCase,
  type SearchRow,
  searchQuery,
  updateCase,
} from './queries.ts';
import {
  CaseDetail,
  CaseSummary,
  CreateCaseBody,
  caseFields,
  DetailQuery,
  PatchCaseBody,
  SearchQuery,
} from './schemas.ts';

export interface CaseRoutesOptions {
  db: Database;
  clock: Clock;
  /** Reads are cached here; writes invalidate by tag. */
  cache: Cache | undefined;
  /**
   * Fair concurrency limit of search queries, keyed by tenant. It guards the query, not the route: a page
   * answered from the cache never waits for a slot. @default none
   */
  searchLimiter?: BulkheadPolicy;
  /** Writes publish `case.created` and `case.updated` here, in their transaction. @default none */
  publish?: PublishEvent;
  /** While `expand_depth_3` is off, a detail asking for depth 3 is served at depth 2. @default always on */
  flags?: Flags;
  /** Page caps and cache times in force (casebook.yaml). */
  settings: SettingsSource;
}

export const caseRoutes: FastifyPluginAsyncTypebox<CaseRoutesOptions> = async (app, options) => {
  const { db, clock, cache, settings } = options;
  const publish = options.publish ?? publishNothing;
  // Built once per reload of the settings: a search makes no options object.
  const searchCaching = memoBy(
    (times: Settings['cache']): GetOrSetOptions => ({ ...readCaching(times), tags: [searchTag] }),
  );
  const detailCaching = memoBy(
    (times: Settings['cache']): GetOrSetOptions => ({ ...readCaching(times), negativeTtl: 5_000 }),
  );
  app.get(
    '/v1/cases/search',
    {
      schema: { querystring: SearchQuery, ...responses({ 200: PagedList(CaseSummary) }) },
      config: { httpCache: tenantData },
    },
    // Not async: a page in L1 is answered with no promise at all (an async handler makes one a request).
    (request, reply) => {
      const { tenantId, tier } = request.principal;
      const { status, cursor } = request.query;
      const q = request.query.q?.trim() ? request.query.q : undefined;
      const limit = pageSize(settings, tier, request.query.limit);
      const after = cursor ? decodeCursor(cursor) : undefined; // a bad cursor is a 400 before any cache lookup
      const key = cacheKey(tenantScope(tenantId), 'search', q ?? '', status ?? '', limit, cursor ?? '');
      const hit = cache && phaseSync('cache', () => cache.peekEntry(key));
      if (hit) {
        sendEntry(reply, hit, clock.now());
        return;
      }
      const query = () => db.query<SearchRow>(searchQuery({ tenantId, q, status, after, fetch: limit + 1 }));
      const load = async () => {
        const { rows } = await limited(options.searchLimiter, request.principal.tenantSlug, query);
        return page(rows, limit, (row) => row.sort_at, presentSummary);
      };
      return readEntry(cache, key, load, searchCaching(settings.get().cache)).then((entry) =>
        sendEntry(reply, entry, clock.now()),
      );
    },
  );

  app.get(
    '/v1/cases/:id',
    {
      schema: { params: IdParams, querystring: DetailQuery, ...responses({ 200: CaseDetail }) },
      config: { httpCache: tenantData },
    },
    async (request, reply) => {
      const { tenantId } = request.principal;
      const id = request.params.id;
      let depth = expandDepth(request.query.expand);
      if (
        depth === 3 &&
        options.flags &&
        !options.flags.enabled('expand_depth_3', flagContext(request.principal))
      ) {
        depth = 2; // owner.team without its org: what the degrader keeps while search is over budget
        reply.header('x-headroom-degraded', 'expand_depth_3');
      }
      // One entry per case and depth; `fields` is applied to it, so every selection shares the entry.
      const entry = await readEntry(
        cache,
        cacheKey(tenantScope(tenantId), 'case', id, depth),
        async () => {
          const { rows } = await db.query<CaseRow>({
            name: `case-detail-${depth}`,
            text: detailQueries[depth],
            values: [tenantId, id],
          });
          return rows[0] ? presentCase(rows[0]) : undefined;
        },
        { ...detailCaching(settings.get().cache), tags: [caseTag(id)] },
      );
      const representation = entry.value;
      if (entry.notFound || representation === undefined) throw notFound('case', id);
      const version = representation.version as number;
      const fields = request.query.fields;
      const now = clock.now();
      if (!fields) return sendEntry(reply, entry, now, versionedEtagOf(version, entry.etag));
      // A narrowed variant changes exactly when the full one does: the full one's digest, plus the selection.
      const stale = isStale(entry, now);
      const etag = versionedEtagOf(version, entry.etag, fieldsVariant(fields));
      const body = JSON.stringify(
        selectFields(stale ? { ...representation, stale } : representation, fields),
      );
      return sendJson(reply, body, stale ? staleEtag(etag) : etag);
    },
  );

  app.post(
    '/v1/cases',
    {
      schema: { body: CreateCaseBody, ...responses({ 201: CaseDetail }) },
      config: { idempotency: acceptsIdempotencyKey },
    },
    async (request, reply) => {
      const { title, description = '', status = 'open', priority = 'medium', owner_id = null } = request.body;
      const { tenantId, userId } = request.principal;
      const now = new Date(clock.now());
      let id = 0;
      const created = await createOnce(db, request, async (tx) => {
        const row = await tx
          .query<CaseRow>(insertCase, [tenantId, title, description, status, owner_id, priority, now, userId])
          .then((result) => result.rows[0]!, rethrowForeignKey);
        id = row.id;
        const presented = presentCase(row);
        await publish(tx, tenantId, 'case.created', presented);
        const body = JSON.stringify(presented);
        const headers = {
          location: `/v1/cases/${row.id}`,
          etag: versionedEtag(row.version, body),
          'content-type': jsonType,
        };
        return { status: 201, body, headers };
      });
      await invalidateCase(cache, tenantId, id, { search: true });
      reply.code(201).header('location', created.headers.location);
      return sendJson(reply, created.body, created.headers.etag!);
    },
  );

  app.patch(
    '/v1/cases/:id',
    { schema: { params: IdParams, body: PatchCaseBody, ...responses({ 200: CaseDetail }) } },
    async (request, reply) => {
      const { tenantId, userId } = request.principal;
      const id = request.params.id;
      const tags = ifMatchTags(request.headers['if-match']);
      const columns = Object.keys(request.body) as (keyof typeof request.body)[];
      const values = columns.map((column) => request.body[column] ?? null);
      const now = new Date(clock.now());
      const update = (tx: Queryable, versions: number[] | null) =>
        tx
          .query<CaseRow>(updateCase(columns), [
            tenantId,
            id,
            now,
            versions,
            columns.join(', '),
            ...values,
            userId,
          ])
          .then((result) => result.rows[0], rethrowForeignKey);
      // With tags, the row is locked and its current tags computed before the update: a tag is compared
      // whole (version and digest), so a made-up digest with the right version does not pass. The event is
      // written in the update's transaction.
      const row = await db.transaction(async (tx) => {
        let updated: CaseRow | undefined;
        if (Array.isArray(tags)) {
          const current = (await tx.query<CaseRow>(detailForUpdate, [tenantId, id])).rows[0];
          if (!current) throw notFound('case', id);
          if (!matchesCurrent(tags, current)) throw preconditionFailed(id);
          updated = await update(tx, [current.version]);
        } else {
          updated = await update(tx, null);
        }
        if (updated) {
          await publish(tx, tenantId, 'case.updated', { ...presentCase(updated), changed: columns });
        }
        return updated;
      });
      if (!row) throw notFound('case', id);
      await invalidateCase(cache, tenantId, id, { search: true });
      const body = JSON.stringify(presentCase(row));
      return sendJson(reply, body, versionedEtag(row.version, body));
    },
  );
};

function preconditionFailed(id: number): HeadroomError {
  return casebookErrors.create('HR_PRECONDITION_FAILED', `case ${id} changed since the ETag in If-Match`, {
    context: { field: 'headers.if-match' },
  });
}

/** The `fields=` selection as a short stable suffix (a bitmask over caseFields, base 36). */
function fieldsVariant(fields: string): string {
  let mask = 1; // `id` is always kept
  for (const name of fields.split(',')) mask |= 1 << caseFields.indexOf(name as (typeof caseFields)[number]);
  return mask.toString(36);
}

/**
 * Whether an If-Match tag names the current state of the case: its version, and the digest of one of its
 * representations (every expand depth; a `fields=` variant carries its depth's digest), all derived from
 * the depth-3 row exactly as the detail route builds them.
 */
function matchesCurrent(tags: VersionTag[], row: CaseRow): boolean {
  const candidates = tags.filter((tag) => tag.version === row.version);
  if (candidates.length === 0) return false;
  const digests = ([0, 1, 2, 3] as const).map((depth) =>
    digest(JSON.stringify(presentCase(atDepth(row, depth)))),
  );
  return candidates.some((tag) => digests.includes(tag.digest));
}

interface OwnerJson {
  team?: (Record<string, unknown> & { org?: unknown }) | null;
  [member: string]: unknown;
}

/** The depth-3 row narrowed to what the detail query of `depth` returns (same members, same order). */
function atDepth(row: CaseRow, depth: ExpandDepth): CaseRow {
  const { owner, ...base } = row;
  if (depth === 0) return base;
  const full = owner as OwnerJson | null;
  if (depth === 3 || full === null) return { ...base, owner: full };
  const { team, ...withoutTeam } = full;
  if (depth === 1) return { ...base, owner: withoutTeam };
  const { org: _org, ...teamWithoutOrg } = team ?? {};
  return { ...base, owner: { ...withoutTeam, team: team ? teamWithoutOrg : null } };
}

function expandDepth(expand: string | undefined): ExpandDepth {
  if (!expand) return 0;
  let depth: ExpandDepth = 0;
  for (const path of expand.split(',')) depth = Math.max(depth, path.split('.').length) as ExpandDepth;
  return depth;
}

function presentSummary(row: SearchRow) {
  return {
    id: row.id,
    title: row.title,
    status: row.status,
    priority: row.priority,
    owner_id: row.owner_id,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function presentCase(row: CaseRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: row.id,
    title: row.title,
    description: row.description,
    status: row.status,
    priority: row.priority,
    owner_id: row.owner_id,
    version: row.version,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
  if (row.owner !== undefined) out.owner = row.owner;
  // Always false as built; a detail served from cache past its fresh time is sent with `stale: true`.
  out.stale = false;
  return out;
}

/** Narrows a representation to the requested top-level fields; `id` and `stale` always stay. */
function selectFields(full: Record<string, unknown>, fields: string | undefined): Record<string, unknown> {
  if (!fields) return full;
  const wanted = new Set(fields.split(','));
  wanted.add('id');
  wanted.add('stale');
  return Object.fromEntries(Object.entries(full).filter(([key]) => wanted.has(key)));
}
