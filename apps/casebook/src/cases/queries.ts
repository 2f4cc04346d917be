// The SQL of the case routes. Every statement is scoped by tenant_id = $1, and each is one round trip.

import type { Cursor } from '../http/cursor.ts';

export interface SearchParams {
  tenantId: number;
  q?: string;
  status?: string;
  after?: Cursor;
  /** Rows to fetch: the page size plus one, to learn whether another page exists. */
  fetch: number;
}

export interface SearchRow {
  id: number;
  title: string;
  status: string;
  priority: string;
  owner_id: number | null;
  created_at: Date;
  updated_at: Date;
  sort_at: string;
}

/** The WHERE of a search (tenant, words, status), with its values: shared by the page and the count. */
function caseFilter(params: Pick<SearchParams, 'tenantId' | 'q' | 'status'>): {
  where: string[];
  values: unknown[];
} {
  const values: unknown[] = [params.tenantId];
  const where = ['tenant_id = $1'];
  if (params.q !== undefined) {
    values.push(params.q);
    where.push(`search @@ websearch_to_tsquery('english', $${values.length})`);
  }
  if (params.status !== undefined) {
    values.push(params.status);
    where.push(`status = $${values.length}`);
  }
  return { where, values };
}

/**
 * Full-text search (or plain listing), newest first, keyset-paginated. One named statement per shape, so
 * PostgreSQL plans each shape once per connection.
 */
export function searchQuery(params: SearchParams): { name: string; text: string; values: unknown[] } {
  const { where, values } = caseFilter(params);
  if (params.after) {
    values.push(params.after.at, params.after.id);
    where.push(`(created_at, id) < ($${values.length - 1}::timestamptz, $${values.length}::integer)`);
  }
  values.push(params.fetch);
  const name = `case-search-${params.q !== undefined ? 'q' : '_'}${params.status !== undefined ? 's' : '_'}${params.after ? 'c' : '_'}`;
  const text = `SELECT id, title, status, priority, owner_id, created_at, updated_at, created_at::text AS sort_at
    FROM cases WHERE ${where.join(' AND ')}
    ORDER BY created_at DESC, id DESC LIMIT $${values.length}`;
  return { name, text, values };
}

/** How many cases a search matches (an export's total, for its progress). */
export function searchCountQuery(params: Pick<SearchParams, 'tenantId' | 'q' | 'status'>): {
  text: string;
  values: unknown[];
} {
  const { where, values } = caseFilter(params);
  return { text: `SELECT count(*)::int AS n FROM cases WHERE ${where.join(' AND ')}`, values };
}

/** How far `expand` reaches along case → owner → team → org. */
export type ExpandDepth = 0 | 1 | 2 | 3;

const caseColumns = `c.id, c.title, c.description, c.status, c.priority, c.owner_id, c.version, c.created_at, c.updated_at`;

const orgJson = `json_build_object('id', o.id, 'name', o.name)`;
const teamJson = (depth: ExpandDepth) =>
  depth >= 3
    ? `json_build_object('id', t.id, 'name', t.name, 'org_id', t.org_id, 'org', ${orgJson})`
    : `json_build_object('id', t.id, 'name', t.name, 'org_id', t.org_id)`;
const ownerJson = (depth: ExpandDepth) =>
  `CASE WHEN u.id IS NULL THEN NULL ELSE json_build_object('id', u.id, 'name', u.name, 'email', u.email, 'role', u.role, 'team_id', u.team_id${
    depth >= 2 ? `, 'team', CASE WHEN t.id IS NULL THEN NULL ELSE ${teamJson(depth)} END` : ''
  }) END`;

/** The detail statement for one expand depth: a single SELECT with left joins, whatever the depth. */
export function detailQuery(depth: ExpandDepth): string {
  const joins = [
    depth >= 1 ? 'LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.owner_id' : '',
    depth >= 2 ? 'LEFT JOIN teams t ON t.tenant_id = u.tenant_id AND t.id = u.team_id' : '',
    depth >= 3 ? 'LEFT JOIN orgs o ON o.tenant_id = t.tenant_id AND o.id = t.org_id' : '',
  ].join(' ');
  const owner = depth >= 1 ? `, ${ownerJson(depth)} AS owner` : '';
  return `SELECT ${caseColumns}${owner} FROM cases c ${joins} WHERE c.tenant_id = $1 AND c.id = $2`;
}

/** The depth-3 detail, its case row locked: If-Match is checked against it before an update. */
export const detailForUpdate = `${detailQuery(3)} FOR UPDATE OF c`;

export const detailQueries: Readonly<Record<ExpandDepth, string>> = {
  0: detailQuery(0),
  1: detailQuery(1),
  2: detailQuery(2),
  3: detailQuery(3),
};

export interface CaseRow {
  id: number;
  title: string;
  description: string;
  status: string;
  priority: string;
  owner_id: number | null;
  version: number;
  created_at: Date;
  updated_at: Date;
  owner?: unknown;
}

/** Inserts a case and its "created" timeline event in one statement. */
export const insertCase = `
  WITH inserted AS (
    INSERT INTO cases (tenant_id, title, description, status, priority, owner_id, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $6, $5, $7, $7)
    RETURNING ${caseColumns.replaceAll('c.', '')}
  ),
  event AS (
    INSERT INTO events (tenant_id, case_id, kind, summary, actor_id, occurred_at)
    SELECT $1, id, 'case_created', 'Case opened: ' || title, $8, $7 FROM inserted
  )
  SELECT * FROM inserted`;

/**
 * Updates the given columns if the version matches (or any version when `versions` is null), bumps the
 * version, and records a timeline event. Returns no row when the case is missing or the version is stale.
 */
export function updateCase(columns: string[]): string {
  const sets = columns.map((column, i) => `${column} = $${i + 6}`).join(', ');
  return `
    WITH updated AS (
      UPDATE cases SET ${sets}, version = version + 1, updated_at = $3
      WHERE tenant_id = $1 AND id = $2 AND ($4::integer[] IS NULL OR version = ANY($4::integer[]))
      RETURNING ${caseColumns.replaceAll('c.', '')}
    ),
    event AS (
      INSERT INTO events (tenant_id, case_id, kind, summary, actor_id, occurred_at)
      SELECT $1, id, 'case_updated', 'Updated ' || $5::text, $${columns.length + 6}::integer, $3 FROM updated
    )
    SELECT * FROM updated`;
}

/**
 * One statement per page: the case lookup decides 404 (no row at all) versus an empty page (one row of
 * NULLs from the LEFT JOIN), so a case of another tenant is indistinguishable from a missing one.
 */
export function activityPageQuery(
  table: 'events' | 'comments',
  columns: string[],
  timeColumn: string,
  after: boolean,
): string {
  const keyset = after ? `AND (x.${timeColumn}, x.id) < ($4::timestamptz, $5::bigint)` : '';
  return `SELECT ${columns.map((c) => `x.${c}`).join(', ')}, x.${timeColumn}::text AS sort_at
    FROM (SELECT id FROM cases WHERE tenant_id = $1 AND id = $2) c
    LEFT JOIN LATERAL (
      SELECT * FROM ${table} x WHERE x.tenant_id = $1 AND x.case_id = c.id ${keyset}
      ORDER BY x.${timeColumn} DESC, x.id DESC LIMIT $3
    ) x ON true`;
}

export const timelineColumns = ['id', 'kind', 'summary', 'actor_id', 'occurred_at'];
export const commentColumns = ['id', 'author_id', 'body', 'created_at'];
