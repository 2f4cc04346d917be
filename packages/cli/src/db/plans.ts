// `headroom db plans`: EXPLAIN every statement of the statement catalogue on a database (the bench-size dataset
// in CI), check each plan (db/plan-shape.ts) and compare it with the snapshot committed in the repo; `--update`
// rewrites the snapshot after a deliberate change, for review in the diff.
//
// Nothing is executed: EXPLAIN without ANALYZE only plans, and each one runs in a READ ONLY transaction that is
// rolled back, so a write (or a SELECT of a function that writes) is planned and never run.

import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CatalogueQuery } from '@headroom/core/db';
import { parseRatio } from '@headroom/core/slo';
import pg from 'pg';
import type { DbSubcommand } from './command.ts';
import {
  nPlusOneFinding,
  type PlanFinding,
  type PlanLimits,
  type PlanNode,
  percent,
  planFindings,
  type ShapeVerdict,
  type SnapshotCheck,
  type SnapshotEntry,
  snapshotEntry,
  snapshotFindings,
} from './plan-shape.ts';
import { DbUsageError } from './usage-error.ts';

/** One statement of the catalogue (apps/casebook/db/queries.json), as the statement recorder writes it. */
export type { CatalogueQuery } from '@headroom/core/db';

/** The snapshot file (JSON, committed): a plan summary per query name. */
export interface PlansSnapshot {
  /** The cost threshold the snapshot was written with; the default of `--threshold`. */
  threshold?: string;
  queries: Record<string, SnapshotEntry>;
}

/** Options of {@link checkPlans}. */
export interface CheckPlansOptions {
  databaseUrl: string;
  catalogue: { queries: CatalogueQuery[] };
  /** The committed snapshot; undefined when there is none yet. */
  snapshot?: PlansSnapshot;
  /** Rewriting the snapshot: check 4 (against the snapshot) reports but does not fail. @default false */
  update?: boolean;
  /** Cost rise that fails, as `20%` or `0.2`. @default the snapshot's threshold, else '20%' */
  threshold?: string;
  /** @default 10000 */
  largeTable?: number;
  /** @default 10000 */
  largeRows?: number;
  /** @default 3 */
  nPlusOne?: number;
}

const defaultOptions = {
  /** @default '20%' */
  threshold: '20%',
  /** @default 10000 */
  largeTable: 10_000,
  /** @default 10000 */
  largeRows: 10_000,
  /** @default 3 */
  nPlusOne: 3,
};

/** A finding with the query it is about. */
export interface QueryFinding extends PlanFinding {
  query: string;
  routes: string[];
}

/** One query's result. */
export interface QueryReport {
  name: string;
  routes: string[];
  /** How it was explained: with the catalogue's sample values, or the generic plan. */
  plan: 'values' | 'generic';
  /** The snapshot's cost, then this run's (undefined when EXPLAIN failed); Δ as a ratio. */
  cost: { before?: number; now?: number; delta?: number };
  verdict: ShapeVerdict | 'error';
  entry?: SnapshotEntry;
  findings: QueryFinding[];
}

/** What {@link checkPlans} found. */
export interface PlansResult {
  queries: QueryReport[];
  /** Snapshot entries whose query the catalogue no longer has (reported, never failing). */
  gone: string[];
  /** Every finding, in query order. */
  findings: QueryFinding[];
  failed: boolean;
  /** The snapshot this run makes (what `--update` writes). */
  snapshot: PlansSnapshot;
  threshold: string;
  /** Wall-clock time of the run, connecting included. */
  ms: number;
}

/**
 * EXPLAINs every query of `catalogue` on the database and checks the plans: sequential scans of large tables,
 * nested loops over many outer rows, N+1 statements, and against `snapshot` cost rises and index scans turned
 * sequential. Returns the report and the snapshot to write; fails nothing itself (see `failed`).
 *
 * @example
 * const result = await checkPlans({ databaseUrl, catalogue, snapshot });
 * if (result.failed) console.log(result.findings.filter((f) => f.fails));
 */
export async function checkPlans(options: CheckPlansOptions): Promise<PlansResult> {
  const started = performance.now();
  const threshold = options.threshold ?? options.snapshot?.threshold ?? defaultOptions.threshold;
  const ratio = parseThreshold(threshold);
  const update = options.update ?? false;
  const largeTable = options.largeTable ?? defaultOptions.largeTable;
  const largeRows = options.largeRows ?? defaultOptions.largeRows;
  const nPlusOne = options.nPlusOne ?? defaultOptions.nPlusOne;
  const before = options.snapshot?.queries ?? {};
  const client = new pg.Client({ connectionString: options.databaseUrl });
  try {
    await client.connect();
  } catch (error) {
    throw new DbUsageError(`--database-url: cannot connect: ${(error as Error).message}`);
  }
  const queries: QueryReport[] = [];
  try {
    const tables = await tableRows(client);
    const limits: PlanLimits = {
      largeTable,
      largeRows,
      tableRows: (schema, relation) =>
        tables.find((t) => t.schema === (schema ?? 'public') && t.relation === relation)?.rows,
    };
    // Shapes name relations without their schema: the largest table of that name stands for them all.
    const byName = new Map<string, number>();
    for (const t of tables) byName.set(t.relation, Math.max(t.rows, byName.get(t.relation) ?? 0));
    const snapshot: SnapshotCheck = { threshold: ratio, update, largeTable, tableRows: (r) => byName.get(r) };
    for (const query of options.catalogue.queries) {
      queries.push(await checkQuery(client, query, before[query.name], { limits, snapshot, nPlusOne }));
    }
  } finally {
    await client.end();
  }
  const names = new Set(options.catalogue.queries.map((q) => q.name));
  const gone = Object.keys(before)
    .filter((name) => !names.has(name))
    .sort(byCodeUnit);
  const entries: Record<string, SnapshotEntry> = {};
  for (const q of [...queries].sort((a, b) => byCodeUnit(a.name, b.name))) {
    // A query EXPLAIN failed on keeps its old entry: the snapshot's diff shows only what was planned.
    const entry = q.entry ?? before[q.name];
    if (entry) entries[q.name] = { cost: entry.cost, rows: entry.rows, shape: entry.shape };
  }
  const findings = queries.flatMap((q) => q.findings);
  return {
    queries,
    gone,
    findings,
    failed: findings.some((f) => f.fails),
    snapshot: { threshold, queries: entries },
    threshold,
    ms: performance.now() - started,
  };
}

// Checks 1–4 for one query of the catalogue.
async function checkQuery(
  client: pg.Client,
  query: CatalogueQuery,
  before: SnapshotEntry | undefined,
  checks: { limits: PlanLimits; snapshot: SnapshotCheck; nPlusOne: number },
): Promise<QueryReport> {
  const routes = query.routes ?? [];
  const values = query.values ?? undefined;
  const report: QueryReport = {
    name: query.name,
    routes,
    plan: values === undefined ? 'generic' : 'values',
    cost: { before: before?.cost },
    verdict: 'error',
    findings: [],
  };
  const found: PlanFinding[] = [];
  let plan: PlanNode | undefined;
  try {
    plan = await explain(client, query.text, values);
  } catch (error) {
    found.push({ check: 'explain', fails: true, message: `EXPLAIN failed: ${(error as Error).message}` });
  }
  if (plan !== undefined) found.push(...planFindings(plan, checks.limits));
  const n = nPlusOneFinding(query.max_per_request ?? 1, routes, checks.nPlusOne);
  if (n) found.push(n);
  if (plan !== undefined) {
    const entry = snapshotEntry(plan);
    const compared = snapshotFindings(before, entry, checks.snapshot);
    report.entry = entry;
    report.cost.now = entry.cost;
    report.cost.delta = compared.delta;
    report.verdict = compared.verdict;
    found.push(...compared.findings);
  }
  report.findings = found.map((f) => ({ query: query.name, routes, ...f }));
  return report;
}

// Code-unit order, the same in every locale: the snapshot's diff must not depend on who wrote it.
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function parseThreshold(text: string): number {
  try {
    return parseRatio(text).value;
  } catch {
    throw new DbUsageError(
      `--threshold must be a percentage such as 20% (or a ratio such as 0.2), got ${text}`,
    );
  }
}

// pg_class.reltuples of every table; -1 (never analysed) is left out as unknown.
async function tableRows(client: pg.Client): Promise<{ schema: string; relation: string; rows: number }[]> {
  const { rows } = await client.query<{ schema: string; relation: string; rows: number }>(
    `SELECT n.nspname AS schema, c.relname AS relation, c.reltuples::float8 AS rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'm', 'p') AND c.reltuples >= 0`,
  );
  return rows;
}

// PostgreSQL's error for a Bind with fewer values than the statement has parameters (SQLSTATE 08P01).
const missingParameters = /^bind message supplies \d+ parameters/;

/**
 * One plan, with the sample values (a custom plan for them), or without values the generic plan. Always the
 * extended protocol first, whose Parse refuses more than one statement, so no text of the catalogue can run a
 * second statement after the EXPLAIN; GENERIC_PLAN needs the simple protocol (a Bind must supply every
 * parameter), so it is sent that way only once Parse has accepted the text.
 */
async function explain(client: pg.Client, text: string, values: unknown[] | undefined): Promise<PlanNode> {
  const options = values === undefined ? 'GENERIC_PLAN, VERBOSE, FORMAT JSON' : 'VERBOSE, FORMAT JSON';
  const sql = `EXPLAIN (${options}) ${text}`;
  const once = async (config: pg.QueryConfig) => {
    await client.query('BEGIN READ ONLY');
    try {
      const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(config);
      return rows[0]!['QUERY PLAN'][0]!.Plan;
    } finally {
      await client.query('ROLLBACK');
    }
  };
  // `queryMode` is node-postgres's, not in its types: an empty values array would otherwise go as a simple query.
  const extended = { text: sql, values: values ?? [], queryMode: 'extended' } as pg.QueryConfig;
  try {
    return await once(extended);
  } catch (error) {
    if (values !== undefined || !missingParameters.test((error as Error).message)) throw error;
  }
  return once({ text: sql });
}

/** Reads and checks the catalogue file (exit 2 naming `--queries` when it is not one). */
export async function readCatalogue(file: string): Promise<{ queries: CatalogueQuery[] }> {
  const parsed = await readJson(file, '--queries');
  const queries = (parsed as { queries?: unknown }).queries;
  if (!Array.isArray(queries)) throw new DbUsageError(`--queries ${file}: no "queries" array`);
  const seen = new Set<string>();
  for (const [i, q] of (queries as CatalogueQuery[]).entries()) {
    const at = `--queries ${file}: queries[${i}]`;
    if (typeof q?.name !== 'string' || q.name === '') throw new DbUsageError(`${at} has no "name"`);
    if (typeof q.text !== 'string' || q.text.trim() === '')
      throw new DbUsageError(`${at} (${q.name}) has no "text"`);
    if (q.values !== undefined && q.values !== null && !Array.isArray(q.values)) {
      throw new DbUsageError(`${at} (${q.name}): "values" must be an array or null`);
    }
    if (
      q.routes !== undefined &&
      !(Array.isArray(q.routes) && q.routes.every((r) => typeof r === 'string'))
    ) {
      throw new DbUsageError(`${at} (${q.name}): "routes" must be an array of strings`);
    }
    if (q.max_per_request !== undefined && !(Number.isInteger(q.max_per_request) && q.max_per_request >= 0)) {
      throw new DbUsageError(`${at} (${q.name}): "max_per_request" must be a whole number`);
    }
    if (seen.has(q.name)) throw new DbUsageError(`${at}: the name ${q.name} is used twice`);
    seen.add(q.name);
  }
  return { queries: queries as CatalogueQuery[] };
}

/** Reads the snapshot file; undefined when it does not exist (exit 2 naming `--snapshot` when it is not one). */
export async function readSnapshot(file: string): Promise<PlansSnapshot | undefined> {
  const parsed = await readJson(file, '--snapshot', true);
  if (parsed === undefined) return undefined;
  const { threshold, queries } = parsed as Partial<PlansSnapshot>;
  if (typeof queries !== 'object' || queries === null || Array.isArray(queries)) {
    throw new DbUsageError(`--snapshot ${file}: no "queries" object`);
  }
  for (const [name, e] of Object.entries(queries)) {
    if (typeof e?.cost !== 'number' || !Array.isArray(e.shape)) {
      throw new DbUsageError(
        `--snapshot ${file}: queries["${name}"] needs a numeric "cost" and a "shape" array`,
      );
    }
  }
  return threshold === undefined ? { queries } : { threshold: String(threshold), queries };
}

async function readJson(file: string, flag: string, optional = false): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (optional && (error as { code?: string }).code === 'ENOENT') return undefined;
    throw new DbUsageError(`${flag} ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DbUsageError(`${flag} ${file}: not JSON (${(error as Error).message})`);
  }
}

/** The snapshot as committed: queries by name in code-unit order, keys in a fixed order, 2-space JSON. */
export function snapshotJson(snapshot: PlansSnapshot): string {
  const queries: Record<string, SnapshotEntry> = {};
  for (const name of Object.keys(snapshot.queries).sort(byCodeUnit)) {
    const { cost, rows, shape } = snapshot.queries[name]!;
    queries[name] = { cost, rows, shape };
  }
  return `${JSON.stringify({ threshold: snapshot.threshold ?? defaultOptions.threshold, queries }, null, 2)}\n`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const verdictOrder: QueryReport['verdict'][] = ['same', 'changed', 'seq-scan regression', 'new', 'error'];

function routesCell(routes: string[]): string {
  if (routes.length === 0) return '-';
  return routes.length <= 2
    ? routes.join(', ')
    : `${routes.slice(0, 2).join(', ')} +${routes.length - 2} more`;
}

/**
 * Text output: a row per query (name, cost old → new, Δ, shape verdict, routes) with its findings under it
 * (FAIL or note, and a suggested index), the queries gone from the catalogue, then a summary line with the run
 * time.
 */
export function plansText(
  result: PlansResult,
  options: { update?: boolean; snapshotFile?: string } = {},
): string {
  const rows = result.queries.map((q) => [
    q.name,
    `${q.cost.before?.toFixed(2) ?? '-'} → ${q.cost.now?.toFixed(2) ?? '-'}`,
    q.cost.delta === undefined ? '' : percent(q.cost.delta),
    q.verdict,
    routesCell(q.routes),
  ]);
  const header = ['query', 'cost (snapshot → now)', 'Δ', 'shape', 'routes'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(header)];
  for (const [i, q] of result.queries.entries()) {
    out.push(line(rows[i]!));
    for (const f of q.findings) {
      out.push(`  ${f.fails ? 'FAIL' : 'note'} ${f.check}: ${f.message}`);
      if (f.suggestion) out.push(`       suggested index (not applied): ${f.suggestion}`);
    }
  }
  for (const name of result.gone) {
    out.push(
      `gone: ${name} is in the snapshot but not in the catalogue (${options.update ? 'dropped' : '--update drops it'})`,
    );
  }
  const verdicts = verdictOrder
    .map((v) => [v, result.queries.filter((q) => q.verdict === v).length] as const)
    .filter(([, n]) => n > 0);
  const failing = result.findings.filter((f) => f.fails);
  const byCheck = new Map<string, number>();
  for (const f of failing) byCheck.set(f.check, (byCheck.get(f.check) ?? 0) + 1);
  const checks = [...byCheck].map(([check, n]) => `${n} ${check}`).join(', ');
  out.push(
    '',
    `${plural(result.queries.length, 'query', 'queries')}: ${verdicts.map(([v, n]) => `${n} ${v}`).join(', ') || 'none'}` +
      `${result.gone.length > 0 ? `, ${result.gone.length} gone` : ''}; ` +
      `${failing.length === 0 ? 'no failing findings' : `${plural(failing.length, 'failing finding')} (${checks})`}` +
      `${options.update && options.snapshotFile ? `; snapshot written to ${options.snapshotFile}` : ''}`,
    `db plans run time: ${(result.ms / 1000).toFixed(2)} s (threshold ${result.threshold})`,
  );
  return `${out.join('\n')}\n`;
}

function count(flag: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new DbUsageError(`${flag} must be a whole number of at least ${min}, got ${JSON.stringify(text)}`);
  }
  return n;
}

export const plansCommand: DbSubcommand = {
  usage:
    'headroom db plans --database-url URL --queries FILE --snapshot FILE [--update] [--threshold 20%] [--large-table N] [--large-rows N] [--n-plus-one N] [--json]',
  summary: 'EXPLAIN every statement of the catalogue, check the plans and compare them with the snapshot',
  options: [
    [
      '--database-url URL',
      'the database to plan on (the bench-size dataset, for plans as production makes them)',
    ],
    [
      '--queries FILE',
      'the statement catalogue (JSON: name, text, values, routes, max_per_request per query)',
    ],
    ['--snapshot FILE', 'the committed plan snapshot to compare with (and to write with --update)'],
    ['--update', 'write the snapshot from this run; only checks 1–3 (scan, loop, N+1) can then fail'],
    [
      '--threshold PCT',
      "cost rise over the snapshot that fails (default: the snapshot's threshold, else 20%)",
    ],
    ['--large-table N', 'a sequential scan of a table with more rows than N fails (default 10000)'],
    ['--large-rows N', 'a nested loop whose outer side estimates more than N rows fails (default 10000)'],
    ['--n-plus-one N', 'a statement sent N or more times in one request fails (default 3)'],
    ['--json', 'print the result as JSON (queries, findings, gone, run time) instead of the table'],
  ],
  exitCodes:
    'Exit codes: 0 plans fine, 1 a failing finding (a regression, a new query without --update, a scan, loop or N+1), 2 bad usage or input.',
  examples: [
    'headroom db plans --database-url postgres://127.0.0.1:5432/casebook --queries apps/casebook/db/queries.json --snapshot apps/casebook/db/plans.json',
    'headroom db plans --database-url "$DATABASE_URL" --queries db/queries.json --snapshot db/plans.json --update',
    'headroom db plans --database-url "$DATABASE_URL" --queries db/queries.json --snapshot db/plans.json --threshold 10% --json > plans.json',
  ],
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'database-url': { type: 'string' },
        queries: { type: 'string' },
        snapshot: { type: 'string' },
        update: { type: 'boolean', default: false },
        threshold: { type: 'string' },
        'large-table': { type: 'string' },
        'large-rows': { type: 'string' },
        'n-plus-one': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    if (positionals.length > 0) throw new DbUsageError(`unexpected argument ${positionals.join(' ')}`);
    const databaseUrl = values['database-url'];
    if (!databaseUrl) throw new DbUsageError('--database-url URL is required');
    if (!values.queries) throw new DbUsageError('--queries FILE is required');
    if (!values.snapshot) throw new DbUsageError('--snapshot FILE is required');
    if (values.threshold !== undefined) parseThreshold(values.threshold);
    const largeTable = count('--large-table', values['large-table'], defaultOptions.largeTable, 0);
    const largeRows = count('--large-rows', values['large-rows'], defaultOptions.largeRows, 0);
    const nPlusOne = count('--n-plus-one', values['n-plus-one'], defaultOptions.nPlusOne, 2);
    const catalogue = await readCatalogue(values.queries);
    const snapshot = await readSnapshot(values.snapshot);
    if (snapshot === undefined && !values.update) {
      throw new DbUsageError(`--snapshot ${values.snapshot}: no such file (run with --update to write it)`);
    }
    const result = await checkPlans({
      databaseUrl,
      catalogue,
      ...(snapshot ? { snapshot } : {}),
      update: values.update,
      ...(values.threshold !== undefined ? { threshold: values.threshold } : {}),
      largeTable,
      largeRows,
      nPlusOne,
    });
    if (values.update) await writeFile(values.snapshot, snapshotJson(result.snapshot));
    if (values.json) {
      const { snapshot: _written, ...rest } = result;
      process.stdout.write(`${JSON.stringify({ ...rest, updated: values.update }, null, 2)}\n`);
    } else {
      process.stdout.write(plansText(result, { update: values.update, snapshotFile: values.snapshot }));
    }
    return result.failed ? 1 : 0;
  },
};
