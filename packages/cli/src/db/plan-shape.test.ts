// The plan checks on plans captured from PostgreSQL 18 (EXPLAIN (VERBOSE, FORMAT JSON) on casebook's schema and
// `test` dataset, pasted as they came), and the Filter parsing on Filter texts PostgreSQL printed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compareShapes,
  filterColumns,
  nPlusOneFinding,
  type PlanNode,
  planFindings,
  planShape,
  type SnapshotEntry,
  shapeDiff,
  snapshotEntry,
  snapshotFindings,
  suggestIndex,
} from './plan-shape.ts';

// casebook's search by status on the `test` dataset with cases_tenant_created and
// cases_tenant_status_created dropped: EXPLAIN (VERBOSE, FORMAT JSON) with values [1, 'open', 21].
const searchSeqScan: PlanNode = {
  'Node Type': 'Limit',
  'Parallel Aware': false,
  'Async Capable': false,
  'Startup Cost': 43.39,
  'Total Cost': 43.44,
  'Plan Rows': 21,
  'Plan Width': 112,
  Disabled: false,
  Output: [
    'id',
    'title',
    'status',
    'priority',
    'owner_id',
    'created_at',
    'updated_at',
    '((created_at)::text)',
  ],
  Plans: [
    {
      'Node Type': 'Sort',
      'Parent Relationship': 'Outer',
      'Parallel Aware': false,
      'Async Capable': false,
      'Startup Cost': 43.39,
      'Total Cost': 43.46,
      'Plan Rows': 30,
      'Plan Width': 112,
      Disabled: false,
      Output: [
        'id',
        'title',
        'status',
        'priority',
        'owner_id',
        'created_at',
        'updated_at',
        '((created_at)::text)',
      ],
      'Sort Key': ['cases.created_at DESC', 'cases.id DESC'],
      Plans: [
        {
          'Node Type': 'Seq Scan',
          'Parent Relationship': 'Outer',
          'Parallel Aware': false,
          'Async Capable': false,
          'Relation Name': 'cases',
          Schema: 'public',
          Alias: 'cases',
          'Startup Cost': 0,
          'Total Cost': 42.65,
          'Plan Rows': 30,
          'Plan Width': 112,
          Disabled: false,
          Output: [
            'id',
            'title',
            'status',
            'priority',
            'owner_id',
            'created_at',
            'updated_at',
            '(created_at)::text',
          ],
          Filter: "((cases.tenant_id = 1) AND (cases.status = 'open'::text))",
        },
      ],
    },
  ],
};

// A join of cases and events, EXPLAIN (GENERIC_PLAN, VERBOSE, FORMAT JSON), same database.
const genericNestedLoop: PlanNode = {
  'Node Type': 'Sort',
  'Parallel Aware': false,
  'Async Capable': false,
  'Startup Cost': 117.63,
  'Total Cost': 117.83,
  'Plan Rows': 80,
  'Plan Width': 20,
  Disabled: false,
  Output: ['c.id', 'x.id', 'c.created_at'],
  'Sort Key': ['c.created_at'],
  Plans: [
    {
      'Node Type': 'Nested Loop',
      'Parent Relationship': 'Outer',
      'Parallel Aware': false,
      'Async Capable': false,
      'Join Type': 'Inner',
      'Startup Cost': 0.28,
      'Total Cost': 115.1,
      'Plan Rows': 80,
      'Plan Width': 20,
      Disabled: false,
      Output: ['c.id', 'x.id', 'c.created_at'],
      'Inner Unique': false,
      Plans: [
        {
          'Node Type': 'Seq Scan',
          'Parent Relationship': 'Outer',
          'Parallel Aware': false,
          'Async Capable': false,
          'Relation Name': 'cases',
          Schema: 'public',
          Alias: 'c',
          'Startup Cost': 0,
          'Total Cost': 43.25,
          'Plan Rows': 8,
          'Plan Width': 16,
          Disabled: false,
          Output: [
            'c.id',
            'c.tenant_id',
            'c.title',
            'c.description',
            'c.status',
            'c.priority',
            'c.owner_id',
            'c.version',
            'c.created_at',
            'c.updated_at',
            'c.search',
          ],
          Filter: '((c.created_at > $3) AND (c.tenant_id = $1) AND (c.status = $2))',
        },
        {
          'Node Type': 'Index Only Scan',
          'Parent Relationship': 'Inner',
          'Parallel Aware': false,
          'Async Capable': false,
          'Scan Direction': 'Forward',
          'Index Name': 'events_case_time',
          'Relation Name': 'events',
          Schema: 'public',
          Alias: 'x',
          'Startup Cost': 0.28,
          'Total Cost': 8.95,
          'Plan Rows': 3,
          'Plan Width': 16,
          Disabled: false,
          Output: ['x.tenant_id', 'x.case_id', 'x.occurred_at', 'x.id'],
          'Index Cond': '((x.tenant_id = $1) AND (x.case_id = c.id))',
        },
      ],
    },
  ],
};

// casebook's session lookup (auth-session of apps/casebook/db/queries.json) on the `test` dataset.
const sessionLookupPlan: PlanNode = {
  'Node Type': 'Nested Loop',
  'Parallel Aware': false,
  'Async Capable': false,
  'Join Type': 'Inner',
  'Startup Cost': 8.32,
  'Total Cost': 10.46,
  'Plan Rows': 1,
  'Plan Width': 43,
  Disabled: false,
  Output: ['s.id', 't.id', 't.slug', 't.tier', 'u.id', 'u.role', 's.expires_at'],
  'Inner Unique': true,
  Plans: [
    {
      'Node Type': 'Hash Join',
      'Parent Relationship': 'Outer',
      'Parallel Aware': false,
      'Async Capable': false,
      'Join Type': 'Inner',
      'Startup Cost': 8.19,
      'Total Cost': 9.55,
      'Plan Rows': 1,
      'Plan Width': 35,
      Disabled: false,
      Output: ['s.id', 's.expires_at', 's.tenant_id', 'u.id', 'u.role', 'u.tenant_id'],
      'Inner Unique': true,
      'Hash Cond': '((u.tenant_id = s.tenant_id) AND (u.id = s.user_id))',
      Plans: [
        {
          'Node Type': 'Seq Scan',
          'Parent Relationship': 'Outer',
          'Parallel Aware': false,
          'Async Capable': false,
          'Relation Name': 'users',
          Schema: 'public',
          Alias: 'u',
          'Startup Cost': 0,
          'Total Cost': 1.24,
          'Plan Rows': 24,
          'Plan Width': 15,
          Disabled: false,
          Output: [
            'u.id',
            'u.tenant_id',
            'u.team_id',
            'u.email',
            'u.name',
            'u.role',
            'u.password_hash',
            'u.created_at',
          ],
        },
        {
          'Node Type': 'Hash',
          'Parent Relationship': 'Inner',
          'Parallel Aware': false,
          'Async Capable': false,
          'Startup Cost': 8.17,
          'Total Cost': 8.17,
          'Plan Rows': 1,
          'Plan Width': 24,
          Disabled: false,
          Output: ['s.id', 's.expires_at', 's.tenant_id', 's.user_id'],
          Plans: [
            {
              'Node Type': 'Index Scan',
              'Parent Relationship': 'Outer',
              'Parallel Aware': false,
              'Async Capable': false,
              'Scan Direction': 'Forward',
              'Index Name': 'sessions_token_hash_key',
              'Relation Name': 'sessions',
              Schema: 'public',
              Alias: 's',
              'Startup Cost': 0.15,
              'Total Cost': 8.17,
              'Plan Rows': 1,
              'Plan Width': 24,
              Disabled: false,
              Output: ['s.id', 's.expires_at', 's.tenant_id', 's.user_id'],
              'Index Cond':
                "(s.token_hash = '\\x66162210141a33fed08ebd29360c6e2a0208761258bce98b81c5be8f75aeb857'::bytea)",
              Filter:
                "((s.revoked_at IS NULL) AND (s.expires_at > '2026-12-05 16:58:12.406+00'::timestamp with time zone))",
            },
          ],
        },
      ],
    },
    {
      'Node Type': 'Index Scan',
      'Parent Relationship': 'Inner',
      'Parallel Aware': false,
      'Async Capable': false,
      'Scan Direction': 'Forward',
      'Index Name': 'tenants_pkey',
      'Relation Name': 'tenants',
      Schema: 'public',
      Alias: 't',
      'Startup Cost': 0.13,
      'Total Cost': 0.65,
      'Plan Rows': 1,
      'Plan Width': 16,
      Disabled: false,
      Output: ['t.id', 't.slug', 't.name', 't.tier', 't.created_at'],
      'Index Cond': '(t.id = u.tenant_id)',
    },
  ],
};

// casebook's full-text search (case-search-q__) on the `test` dataset: a BitmapAnd of two indexes.
const fullTextSearch: PlanNode = {
  'Node Type': 'Limit',
  'Parallel Aware': false,
  'Async Capable': false,
  'Startup Cost': 36.87,
  'Total Cost': 36.89,
  'Plan Rows': 8,
  'Plan Width': 112,
  Disabled: false,
  Output: [
    'id',
    'title',
    'status',
    'priority',
    'owner_id',
    'created_at',
    'updated_at',
    '((created_at)::text)',
  ],
  Plans: [
    {
      'Node Type': 'Sort',
      'Parent Relationship': 'Outer',
      'Parallel Aware': false,
      'Async Capable': false,
      'Startup Cost': 36.87,
      'Total Cost': 36.9,
      'Plan Rows': 10,
      'Plan Width': 112,
      Disabled: false,
      Output: [
        'id',
        'title',
        'status',
        'priority',
        'owner_id',
        'created_at',
        'updated_at',
        '((created_at)::text)',
      ],
      'Sort Key': ['cases.created_at DESC', 'cases.id DESC'],
      Plans: [
        {
          'Node Type': 'Bitmap Heap Scan',
          'Parent Relationship': 'Outer',
          'Parallel Aware': false,
          'Async Capable': false,
          'Relation Name': 'cases',
          Schema: 'public',
          Alias: 'cases',
          'Startup Cost': 13.65,
          'Total Cost': 36.71,
          'Plan Rows': 10,
          'Plan Width': 112,
          Disabled: false,
          Output: [
            'id',
            'title',
            'status',
            'priority',
            'owner_id',
            'created_at',
            'updated_at',
            '(created_at)::text',
          ],
          'Recheck Cond': "((cases.tenant_id = 3) AND (cases.search @@ '''fraud'''::tsquery))",
          Plans: [
            {
              'Node Type': 'BitmapAnd',
              'Parent Relationship': 'Outer',
              'Parallel Aware': false,
              'Async Capable': false,
              'Startup Cost': 13.65,
              'Total Cost': 13.65,
              'Plan Rows': 10,
              'Plan Width': 0,
              Disabled: false,
              Plans: [
                {
                  'Node Type': 'Bitmap Index Scan',
                  'Parent Relationship': 'Member',
                  'Parallel Aware': false,
                  'Async Capable': false,
                  'Index Name': 'cases_owner',
                  'Startup Cost': 0,
                  'Total Cost': 4.59,
                  'Plan Rows': 59,
                  'Plan Width': 0,
                  Disabled: false,
                  'Index Cond': '(cases.tenant_id = 3)',
                },
                {
                  'Node Type': 'Bitmap Index Scan',
                  'Parent Relationship': 'Member',
                  'Parallel Aware': false,
                  'Async Capable': false,
                  'Index Name': 'cases_search',
                  'Startup Cost': 0,
                  'Total Cost': 8.8,
                  'Plan Rows': 50,
                  'Plan Width': 0,
                  Disabled: false,
                  'Index Cond': "(cases.search @@ '''fraud'''::tsquery)",
                },
              ],
            },
          ],
        },
      ],
    },
  ],
};

const rowsOf = (table: Record<string, number>) => (_schema: string | undefined, relation: string) =>
  table[relation];

describe('planShape', () => {
  test('flattens the tree in pre-order, two spaces a level, with index and relation but no costs', () => {
    assert.deepEqual(planShape(sessionLookupPlan), [
      'Nested Loop',
      '  Hash Join',
      '    Seq Scan on users',
      '    Hash',
      '      Index Scan using sessions_token_hash_key on sessions',
      '  Index Scan using tenants_pkey on tenants',
    ]);
    assert.deepEqual(planShape(fullTextSearch), [
      'Limit',
      '  Sort',
      '    Bitmap Heap Scan on cases',
      '      BitmapAnd',
      '        Bitmap Index Scan using cases_owner',
      '        Bitmap Index Scan using cases_search',
    ]);
  });

  test("the snapshot entry is the root's cost to 2 decimals, its rows and the shape", () => {
    assert.deepEqual(snapshotEntry(searchSeqScan), {
      cost: 43.44,
      rows: 21,
      shape: ['Limit', '  Sort', '    Seq Scan on cases'],
    });
    assert.equal(snapshotEntry({ ...searchSeqScan, 'Total Cost': 16.625 }).cost, 16.63);
  });
});

describe('planFindings', () => {
  test('a sequential scan of a large table fails, with the index its Filter and ORDER BY ask for', () => {
    const findings = planFindings(searchSeqScan, {
      largeTable: 100,
      largeRows: 10_000,
      tableRows: rowsOf({ cases: 300 }),
    });
    assert.deepEqual(findings, [
      {
        check: 'seq-scan',
        fails: true,
        message: 'Seq Scan on cases: 300 rows in the table (--large-table 100)',
        suggestion:
          'CREATE INDEX CONCURRENTLY ON cases (tenant_id, status); The query sorts by created_at DESC, id DESC: to serve the ORDER BY too, CREATE INDEX CONCURRENTLY ON cases (tenant_id, status, created_at DESC, id DESC);',
      },
    ]);
  });

  test('a table at or under --large-table, or never analysed (rows unknown), may be scanned', () => {
    assert.deepEqual(
      planFindings(searchSeqScan, { largeTable: 300, largeRows: 10_000, tableRows: rowsOf({ cases: 300 }) }),
      [],
    );
    assert.deepEqual(
      planFindings(searchSeqScan, { largeTable: 100, largeRows: 10_000, tableRows: rowsOf({}) }),
      [],
    );
  });

  test('a nested loop over more outer rows than --large-rows fails, naming its outer side', () => {
    const findings = planFindings(genericNestedLoop, {
      largeTable: 1000,
      largeRows: 5,
      tableRows: rowsOf({ cases: 300, events: 3000 }),
    });
    assert.equal(findings.length, 1);
    assert.equal(findings[0]!.check, 'nested-loop');
    assert.match(
      findings[0]!.message,
      /^Nested Loop over 8 estimated outer rows from Seq Scan on cases \(--large-rows 5\)/,
    );
    assert.deepEqual(
      planFindings(genericNestedLoop, { largeTable: 1000, largeRows: 8, tableRows: rowsOf({}) }),
      [],
    );
  });

  test('the generic plan: parameters in the Filter, the range column last, the ORDER BY on the same column', () => {
    const [scan] = planFindings(genericNestedLoop, {
      largeTable: 100,
      largeRows: 10_000,
      tableRows: rowsOf({ cases: 300 }),
    });
    assert.equal(
      scan!.suggestion,
      'CREATE INDEX CONCURRENTLY ON cases (tenant_id, status, created_at); It also serves the ORDER BY created_at.',
    );
  });

  test('index scans and bitmaps are not findings, even on large tables', () => {
    const tableRows = rowsOf({ cases: 1e6, sessions: 1e6, tenants: 1e6 });
    assert.deepEqual(planFindings(fullTextSearch, { largeTable: 100, largeRows: 100, tableRows }), []);
    // users (24 rows) is scanned; the rest is read through indexes
    assert.deepEqual(planFindings(sessionLookupPlan, { largeTable: 100, largeRows: 100, tableRows }), []);
  });
});

describe('nPlusOneFinding', () => {
  test('a statement sent --n-plus-one times or more in one request fails, naming the routes', () => {
    assert.equal(nPlusOneFinding(2, ['GET /v1/cases/:id'], 3), undefined);
    const finding = nPlusOneFinding(5, ['GET /v1/cases/:id', 'GET /v1/cases/search'], 3);
    assert.equal(finding?.fails, true);
    assert.match(
      finding!.message,
      /^sent up to 5 times in one request \(--n-plus-one 3\) by GET \/v1\/cases\/:id, GET \/v1\/cases\/search:/,
    );
  });
});

describe('filterColumns', () => {
  // Each Filter as PostgreSQL 18 printed it for a sequential scan.
  test('equality columns (=, = ANY, IS NULL), range columns and the rest, qualified by the alias or not', () => {
    assert.deepEqual(filterColumns("((cases.tenant_id = 1) AND (cases.status = 'open'::text))", 'cases'), {
      equality: ['tenant_id', 'status'],
      range: [],
      other: [],
    });
    assert.deepEqual(filterColumns('((created_at > $3) AND (tenant_id = $1) AND (status = $2))'), {
      equality: ['tenant_id', 'status'],
      range: ['created_at'],
      other: [],
    });
    assert.deepEqual(
      filterColumns(
        "((sessions.revoked_at IS NULL) AND (sessions.tenant_id = ANY ('{1,2}'::integer[])) AND (sessions.expires_at > now()))",
        'sessions',
      ),
      { equality: ['revoked_at', 'tenant_id'], range: ['expires_at'], other: [] },
    );
  });

  test('a constant on the left is flipped; quoted text and function calls are not columns', () => {
    assert.deepEqual(
      filterColumns(
        "((cases.title = 'a (b = c)'::text) AND (2 = cases.tenant_id) AND (lower(cases.title) = 'x'::text) AND (5 < (cases.priority)::integer))",
        'cases',
      ),
      { equality: ['title', 'tenant_id'], range: ['priority'], other: [] },
    );
  });

  test('operators a B-tree does not serve are set apart; columns of another alias are left out', () => {
    assert.deepEqual(
      filterColumns(
        "((c.search @@ '''fraud'''::tsquery) AND (c.status <> 'closed'::text) AND (c.title ~~ 'ab%'::text))",
        'c',
      ),
      { equality: [], range: [], other: ['search @@', 'status <>', 'title ~~'] },
    );
    assert.deepEqual(filterColumns('((x.case_id = c.id) AND (x.tenant_id = 1))', 'x'), {
      equality: ['case_id', 'tenant_id'],
      range: [],
      other: [],
    });
    assert.deepEqual(filterColumns('(c.tenant_id = 1)', 'x'), { equality: [], range: [], other: [] });
  });
});

describe('suggestIndex', () => {
  const scan = (fields: Partial<PlanNode>): PlanNode => ({
    'Node Type': 'Seq Scan',
    'Relation Name': 'cases',
    Alias: 'cases',
    'Total Cost': 1,
    'Plan Rows': 1,
    ...fields,
  });

  test('says so when the Filter names no column it can read', () => {
    assert.equal(suggestIndex(scan({})), 'No index suggested for cases: it has no Filter.');
    assert.equal(
      suggestIndex(scan({ Filter: "(lower(cases.title) = 'x'::text)" })),
      "No index suggested for cases: no column comparison found in its Filter (lower(cases.title) = 'x'::text).",
    );
    assert.equal(
      suggestIndex(scan({ Filter: "(cases.search @@ '''fraud'''::tsquery)" })),
      "No index suggested for cases: no column comparison found in its Filter (cases.search @@ '''fraud'''::tsquery). It also filters on search @@, which a B-tree index does not serve.",
    );
  });

  test('names the schema when it is not public and quotes names that need it', () => {
    assert.equal(
      suggestIndex(
        scan({ 'Relation Name': 'jobs', Schema: 'headroom', Alias: 'j', Filter: "(j.queue = 'x'::text)" }),
      ),
      'CREATE INDEX CONCURRENTLY ON headroom.jobs (queue);',
    );
    assert.equal(
      suggestIndex(
        scan({
          'Relation Name': 'Cases',
          Schema: 'public',
          Alias: 'Cases',
          Filter: '("Cases"."Tenant" = 1)',
        }),
      ),
      'CREATE INDEX CONCURRENTLY ON "Cases" ("Tenant");',
    );
  });
});

describe('compareShapes and snapshotFindings', () => {
  const indexed = snapshotEntry(fullTextSearch);
  const scanned = snapshotEntry(searchSeqScan);
  const check = {
    threshold: 0.2,
    update: false,
    largeTable: 100,
    tableRows: (r: string) => ({ cases: 300 })[r],
  };

  test('same, changed (another index), or an index scan turned sequential', () => {
    assert.deepEqual(compareShapes(indexed.shape, indexed.shape), { verdict: 'same', regressions: [] });
    const renamed = indexed.shape.map((l) => l.replace('cases_owner', 'cases_tenant_id_id_key'));
    assert.deepEqual(compareShapes(indexed.shape, renamed), { verdict: 'changed', regressions: [] });
    assert.deepEqual(compareShapes(indexed.shape, scanned.shape), {
      verdict: 'seq-scan regression',
      regressions: [{ relation: 'cases', was: 'Bitmap Heap Scan' }],
    });
    // A seq scan the snapshot already had is no regression
    assert.equal(
      compareShapes(scanned.shape, [...scanned.shape, '  Index Scan using x on cases']).verdict,
      'changed',
    );
  });

  test('shapeDiff lists the lines each side has and the other lacks', () => {
    assert.deepEqual(shapeDiff(indexed.shape, scanned.shape), [
      '- Bitmap Heap Scan on cases',
      '- BitmapAnd',
      '- Bitmap Index Scan using cases_owner',
      '- Bitmap Index Scan using cases_search',
      '+ Seq Scan on cases',
    ]);
  });

  test('a cost rise over the threshold fails; within it, or a fall, does not', () => {
    const at = (cost: number): SnapshotEntry => ({ ...indexed, cost });
    const rise = snapshotFindings(at(10), at(12.5), check);
    assert.equal(rise.verdict, 'same');
    assert.equal(rise.delta, 0.25);
    assert.deepEqual(rise.findings, [
      { check: 'cost', fails: true, message: 'cost 10.00 → 12.50 (+25.0%), over the 20.0% threshold' },
    ]);
    assert.deepEqual(snapshotFindings(at(10), at(11.9), check).findings, []);
    assert.deepEqual(snapshotFindings(at(10), at(2), check).findings, []);
    assert.equal(snapshotFindings(at(10), at(12.5), { ...check, update: true }).findings[0]?.fails, false);
  });

  test('an index scan turned sequential fails, unless the table is known to be small', () => {
    const regressed = snapshotFindings(indexed, { ...scanned, cost: indexed.cost }, check);
    assert.equal(regressed.verdict, 'seq-scan regression');
    assert.deepEqual(
      regressed.findings.map((f) => [f.check, f.fails, f.message]),
      [
        ['shape', true, 'cases is now scanned sequentially, was Bitmap Heap Scan'],
        [
          'shape',
          false,
          'plan shape changed: - Bitmap Heap Scan on cases; - BitmapAnd; - Bitmap Index Scan using cases_owner; - Bitmap Index Scan using cases_search; + Seq Scan on cases',
        ],
      ],
    );
    const small = snapshotFindings(
      indexed,
      { ...scanned, cost: indexed.cost },
      { ...check, largeTable: 1000 },
    );
    assert.equal(small.verdict, 'changed');
    assert.deepEqual(
      small.findings.map((f) => f.fails),
      [false, false],
    );
    assert.match(small.findings[0]!.message, /not failing: 300 rows in the table \(--large-table 1000\)$/);
  });

  test('a query the snapshot lacks is new: failing, until --update adds it', () => {
    const fresh = snapshotFindings(undefined, indexed, check);
    assert.equal(fresh.verdict, 'new');
    assert.deepEqual(
      fresh.findings.map((f) => [f.check, f.fails]),
      [['new', true]],
    );
    assert.match(fresh.findings[0]!.message, /run with --update/);
    assert.deepEqual(snapshotFindings(undefined, indexed, { ...check, update: true }).findings, []);
  });
});
