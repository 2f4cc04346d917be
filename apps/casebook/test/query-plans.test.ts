// Every query of the golden path is served by an index: EXPLAIN each one and fail on a sequential scan
// of a tenant-owned table. Sequential scans are priced out (enable_seqscan = off), so the planner uses
// any index that can serve the query; a seq scan left in the plan means no such index exists.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiKeyLookup, sessionLookup } from '../src/auth/authenticate.ts';
import {
  activityPageQuery,
  commentColumns,
  detailQueries,
  searchQuery,
  timelineColumns,
  updateCase,
} from '../src/cases/queries.ts';
import { profiles, seed } from '../src/seed/index.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

const guarded = new Set([
  'cases',
  'events',
  'comments',
  'case_entities',
  'entities',
  'sessions',
  'api_keys',
  'users',
]);
let db: TestDatabase;

before(async () => {
  db = await createTestDatabase();
  await seed(db.pool, profiles.test);
});
after(() => db.close());

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function seqScans(node: PlanNode): string[] {
  const own =
    node['Node Type'] === 'Seq Scan' && guarded.has(node['Relation Name'] ?? '')
      ? [node['Relation Name']!]
      : [];
  return [...own, ...(node.Plans ?? []).flatMap(seqScans)];
}

async function plan(text: string, values: unknown[]): Promise<PlanNode> {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL enable_seqscan = off');
    const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${text}`, values);
    return rows[0]['QUERY PLAN'][0].Plan as PlanNode;
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

test('golden-path queries never scan a tenant-owned table sequentially', async () => {
  const at = '2026-05-01T00:00:00Z';
  const hash = Buffer.alloc(32);
  const queries: [string, string, unknown[]][] = [
    ['auth: session', sessionLookup, [hash, new Date()]],
    ['auth: API key', apiKeyLookup, [hash]],
    [
      'login: user by email',
      'SELECT u.id FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.email = $1',
      ['a@b.c'],
    ],
  ];
  for (const q of [undefined, 'fraud']) {
    for (const status of [undefined, 'open']) {
      for (const after of [undefined, { at, id: 100 }]) {
        const s = searchQuery({ tenantId: 1, q, status, after, fetch: 21 });
        queries.push([`search ${s.name}`, s.text, s.values]);
      }
    }
  }
  for (const depth of [0, 1, 2, 3] as const)
    queries.push([`detail depth ${depth}`, detailQueries[depth], [1, 5]]);
  for (const after of [false, true]) {
    const values = after ? [1, 5, 21, at, 100] : [1, 5, 21];
    queries.push([
      `timeline after=${after}`,
      activityPageQuery('events', timelineColumns, 'occurred_at', after),
      values,
    ]);
    queries.push([
      `comments after=${after}`,
      activityPageQuery('comments', commentColumns, 'created_at', after),
      values,
    ]);
  }
  queries.push(['patch case', updateCase(['status']), [1, 5, new Date(), null, 'status', 'open', 1]]);
  queries.push(['entity detail', 'SELECT id FROM entities WHERE tenant_id = $1 AND id = $2', [1, 5]]);

  const failures: string[] = [];
  for (const [name, text, values] of queries) {
    const scans = seqScans(await plan(text, values));
    if (scans.length > 0) failures.push(`${name}: Seq Scan on ${scans.join(', ')}`);
  }
  assert.deepEqual(failures, []);
});

test('the check itself catches a sequential scan', async () => {
  const scans = seqScans(await plan("SELECT id FROM cases WHERE description = 'x'", []));
  assert.deepEqual(scans, ['cases']);
});
