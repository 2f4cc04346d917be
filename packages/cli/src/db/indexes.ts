// `headroom db indexes`: indexes that cost writes and space for nothing. Unused ones (no scan since the
// statistics were reset), duplicates and left prefixes of another index, and invalid ones (a CREATE INDEX
// CONCURRENTLY that failed). It prints the DROP INDEX CONCURRENTLY lines to run and runs none of them.

import { parseArgs } from 'node:util';
import type { DbSubcommand } from './command.ts';
import { connected, type Sql } from './connection.ts';
import { textTable } from './text-table.ts';
import { DbUsageError } from './usage-error.ts';

/** Options of {@link indexReport}. */
export interface IndexReportOptions {
  /**
   * Unused indexes smaller than this (bytes) are counted, not listed: on a young or small database every index
   * is small and "unused". Duplicates and invalid indexes are listed whatever their size: they are defects, and
   * the exit code should not depend on how much data a CI database holds. @default 1 MiB
   */
  minSize?: number;
}

const defaultOptions = { minSize: 1024 * 1024 };

/** An index of a user table that no scan used since the statistics were reset. */
export interface UnusedIndex {
  /** Schema-qualified and quoted as SQL takes them, like `index`. */
  table: string;
  index: string;
  bytes: number;
  definition: string;
  /**
   * A foreign key whose columns lead this index and no other: deleting or updating a referenced row would scan
   * the table without it, and that is rare enough to leave no scan in the statistics.
   */
  foreign_key: string | null;
}

/** An index another one makes redundant, and the statement that drops it. */
export interface RedundantIndex {
  table: string;
  index: string;
  /** duplicate: the same keys; prefix: its keys lead the other's (btree); covered: the same keys, fewer INCLUDEs. */
  kind: 'duplicate' | 'prefix' | 'covered';
  /** The index to keep. */
  covered_by: string;
  bytes: number;
  definition: string;
  covered_by_definition: string;
  /** DROP INDEX CONCURRENTLY, or ALTER TABLE ... DROP CONSTRAINT for an index that backs one. Never run. */
  drop: string;
}

/** An index with pg_index.indisvalid false: the planner does not use it, yet every write maintains it. */
export interface InvalidIndex {
  table: string;
  index: string;
  bytes: number;
  definition: string;
  /** A CREATE INDEX CONCURRENTLY still running: not a defect (yet), and no drop line. */
  building: boolean;
  drop: string | null;
}

/** What {@link indexReport} answers (snake_case: the JSON `--json` prints). */
export interface IndexReport {
  database: string;
  /** ISO time, by the server's clock. */
  collected_at: string;
  /** pg_stat_database.stats_reset: "unused" covers the time since; null when never reset. */
  stats_reset: string | null;
  min_size_bytes: number;
  unused: UnusedIndex[];
  /** Unused indexes left out for being smaller than `min_size_bytes`. */
  unused_below_min_size: number;
  duplicates: RedundantIndex[];
  invalid: InvalidIndex[];
}

// One row per index of a user table. Keys are compared per column as PostgreSQL's own definition prints them
// (a column name or an expression), with their operator class, collation and ordering options.
const indexesSql = `
SELECT i.indexrelid::int8 AS oid, i.indrelid::int8 AS table_oid,
  quote_ident(n.nspname) || '.' || quote_ident(t.relname) AS table,
  quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS index,
  am.amname AS method, c.relkind = 'I' AS partitioned, c.relispartition AS partition,
  i.indisvalid AS valid, i.indisunique AS unique, i.indisexclusion AS exclusion,
  i.indisreplident AS replica_identity, i.indnullsnotdistinct AS nulls_not_distinct,
  i.indnkeyatts AS key_count,
  ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnatts) k) AS columns,
  i.indclass::oid[]::text[] AS opclasses, i.indcollation::oid[]::text[] AS collations,
  i.indoption::int2[]::text[] AS options,
  pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
  quote_ident(con.conname) AS constraint_name, con.contype AS constraint_type,
  pg_relation_size(i.indexrelid)::float8 AS bytes,
  s.idx_scan::float8 AS scans,
  pg_get_indexdef(i.indexrelid) AS definition,
  EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) AS building,
  -- A foreign key whose columns (in any order) lead this index and no other: the checks of a referenced row
  -- deleted or updated look rows up by them.
  (SELECT f.conname FROM pg_constraint f
    WHERE f.conrelid = i.indrelid AND f.contype = 'f'
      AND ARRAY(SELECT j.indexrelid FROM pg_index j
        WHERE j.indrelid = f.conrelid AND (j.indisvalid OR j.indexrelid = i.indexrelid)
          AND (string_to_array(j.indkey::text, ' ')::int2[])[1:cardinality(f.conkey)] @> f.conkey
          AND (string_to_array(j.indkey::text, ' ')::int2[])[1:cardinality(f.conkey)] <@ f.conkey
      ) = ARRAY[i.indexrelid]
    ORDER BY f.conname LIMIT 1) AS foreign_key
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = c.relam
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  -- An extension's tables are the extension's to index.
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = t.oid AND d.deptype = 'e')
ORDER BY 3, 4`;

interface IndexRow {
  oid: string;
  table_oid: string;
  table: string;
  index: string;
  method: string;
  partitioned: boolean;
  partition: boolean;
  valid: boolean;
  unique: boolean;
  exclusion: boolean;
  replica_identity: boolean;
  nulls_not_distinct: boolean;
  key_count: number;
  columns: string[];
  opclasses: string[];
  collations: string[];
  options: string[];
  predicate: string | null;
  constraint_name: string | null;
  constraint_type: 'p' | 'u' | 'x' | null;
  bytes: number;
  scans: number | null;
  definition: string;
  building: boolean;
  foreign_key: string | null;
}

/**
 * Reads the indexes of the database `db` connects to (a URL, or a connection to use) and finds the unused,
 * redundant and invalid ones. Reads only.
 *
 * @example
 * const report = await indexReport(process.env.DATABASE_URL!, { minSize: 0 });
 * for (const d of report.duplicates) console.log(d.drop);
 */
export async function indexReport(db: string | Sql, options: IndexReportOptions = {}): Promise<IndexReport> {
  const { minSize } = { ...defaultOptions, ...options };
  return connected(db, async (sql) => {
    const about = (
      await sql.query(
        `SELECT current_database() AS database, clock_timestamp() AS collected_at, stats_reset
         FROM pg_stat_database WHERE datname = current_database()`,
      )
    ).rows[0] as { database: string; collected_at: Date; stats_reset: Date | null };
    // A partition's index belongs to its parent's: it is reported (and dropped) through that one.
    const indexes = ((await sql.query(indexesSql)).rows as IndexRow[]).filter((i) => !i.partition);

    const unusedAll = indexes.filter(
      (i) => i.valid && !i.partitioned && i.scans === 0 && !enforces(i) && !i.replica_identity,
    );
    const unused = unusedAll
      .filter((i) => i.bytes >= minSize)
      .map(({ table, index, bytes, definition, foreign_key }) => ({
        table,
        index,
        bytes,
        definition,
        foreign_key,
      }));

    return {
      database: about.database,
      collected_at: about.collected_at.toISOString(),
      stats_reset: about.stats_reset?.toISOString() ?? null,
      min_size_bytes: minSize,
      unused,
      unused_below_min_size: unusedAll.length - unused.length,
      duplicates: redundant(indexes),
      invalid: indexes
        .filter((i) => !i.valid)
        .map((i) => ({
          table: i.table,
          index: i.index,
          bytes: i.bytes,
          definition: i.definition,
          building: i.building,
          drop: i.building ? null : dropStatement(i),
        })),
    };
  });
}

// An index that enforces something (a primary key, uniqueness, an exclusion): dropping it changes what the
// table accepts, whether or not a constraint names it.
const enforces = (i: IndexRow) => i.unique || i.exclusion || i.constraint_type !== null;

const keyColumn = (i: IndexRow, k: number) =>
  `${i.columns[k]}\u0000${i.opclasses[k]}\u0000${i.collations[k]}\u0000${i.options[k]}`;

// Whether `b` does all `a` does: the same method and predicate, `a`'s keys leading `b`'s (for btree, whose
// scans can use a leading part of the keys; other methods only when the keys are the same), `a`'s INCLUDE
// columns among `b`'s columns, and if `a` enforces something, `b` enforcing the same on the same keys.
function covers(a: IndexRow, b: IndexRow): boolean {
  if (a.oid === b.oid || a.table_oid !== b.table_oid || a.method !== b.method || !a.valid || !b.valid)
    return false;
  if (a.predicate !== b.predicate || a.key_count > b.key_count) return false;
  if (a.method !== 'btree' && a.key_count !== b.key_count) return false;
  for (let k = 0; k < a.key_count; k++) if (keyColumn(a, k) !== keyColumn(b, k)) return false;
  const columns = new Set(b.columns);
  if (!a.columns.slice(a.key_count).every((c) => columns.has(c))) return false;
  if (a.exclusion) return false;
  if (a.unique)
    return b.unique && b.key_count === a.key_count && b.nulls_not_distinct === a.nulls_not_distinct;
  return true;
}

// Of two indexes that do the same, the one to keep: the one a constraint needs (a primary key first), else a
// unique one, else the one the planner used more, else the older (lower oid).
function preference(i: IndexRow): number[] {
  return [
    i.constraint_type === 'p' ? 3 : i.constraint_type === null ? 0 : 2,
    i.unique ? 1 : 0,
    i.replica_identity ? 1 : 0,
    i.scans ?? 0,
    -Number(i.oid),
  ];
}
const prefer = (a: IndexRow, b: IndexRow) => {
  const [pa, pb] = [preference(a), preference(b)];
  for (let k = 0; k < pa.length; k++) if (pa[k] !== pb[k]) return pa[k]! > pb[k]!;
  return false;
};

function redundant(indexes: IndexRow[]): RedundantIndex[] {
  // a is redundant given b when b does all a does, and a does not also do all b does (a duplicate) unless b is
  // the one to keep.
  const redundantGiven = (a: IndexRow, b: IndexRow) => covers(a, b) && (!covers(b, a) || prefer(b, a));
  const findings: RedundantIndex[] = [];
  for (const a of indexes) {
    const coverers = indexes.filter((b) => redundantGiven(a, b));
    if (coverers.length === 0) continue;
    // Name an index that stays: of (a), (a, b) and (a, b, c), both shorter ones point at (a, b, c).
    const keep =
      coverers.find((b) => !indexes.some((c) => redundantGiven(b, c))) ??
      coverers.reduce((x, y) => (prefer(y, x) ? y : x));
    const sameKeys = a.key_count === keep.key_count;
    findings.push({
      table: a.table,
      index: a.index,
      kind: !sameKeys ? 'prefix' : a.columns.length === keep.columns.length ? 'duplicate' : 'covered',
      covered_by: keep.index,
      bytes: a.bytes,
      definition: a.definition,
      covered_by_definition: keep.definition,
      drop: dropStatement(a),
    });
  }
  return findings;
}

function dropStatement(i: IndexRow): string {
  if (i.constraint_name !== null) {
    return `ALTER TABLE ${i.table} DROP CONSTRAINT ${i.constraint_name};`;
  }
  // DROP INDEX CONCURRENTLY does not take a partitioned table's index: this one locks the partitions.
  return i.partitioned ? `DROP INDEX ${i.index};` : `DROP INDEX CONCURRENTLY ${i.index};`;
}

const units: [string, number][] = [
  ['tb', 1024 ** 4],
  ['gb', 1024 ** 3],
  ['mb', 1024 ** 2],
  ['kb', 1024],
  ['bytes', 1],
  ['b', 1],
];

/**
 * A size as PostgreSQL's pg_size_bytes takes it (`8192`, `512kB`, `1MB`, `1.5 GB`: units of 1024), in bytes.
 *
 * @example
 * parseSize('1MB'); // 1048576
 */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return undefined;
  const unit = match[2]!.toLowerCase();
  const factor = unit === '' ? 1 : units.find(([name]) => name === unit)?.[1];
  return factor === undefined ? undefined : Math.round(Number(match[1]) * factor);
}

/**
 * Bytes in units of 1024, as pg_size_pretty names them, with a decimal under 10.
 *
 * @example
 * formatSize(8192); // '8.0 kB'
 */
export function formatSize(bytes: number): string {
  for (const [name, factor] of units.slice(0, 4)) {
    if (bytes < factor) continue;
    const value = bytes / factor;
    return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${name === 'kb' ? 'kB' : name.toUpperCase()}`;
  }
  return `${bytes} bytes`;
}

/** The report `headroom db indexes` prints: a section per kind, with the statements to run. */
export function indexReportText(report: IndexReport): string {
  const since =
    report.stats_reset === null
      ? 'since the statistics began (pg_stat_database.stats_reset is empty: never reset)'
      : `since the statistics were reset at ${report.stats_reset}`;
  const lines = [`${report.database}: indexes (collected at ${report.collected_at})`, ''];
  const below =
    report.unused_below_min_size > 0
      ? `; ${report.unused_below_min_size} smaller than ${formatSize(report.min_size_bytes)} not listed (--min-size 0 lists them)`
      : '';
  lines.push(`Unused indexes: ${report.unused.length}, no scan ${since}${below}.`);
  if (report.unused.length > 0) {
    const table = [['table', 'index', 'size', 'note']];
    for (const u of report.unused) {
      const note =
        u.foreign_key === null
          ? ''
          : `the only index for foreign key ${u.foreign_key}: a referenced row deleted or updated scans the table without it`;
      table.push([u.table, u.index, formatSize(u.bytes), note]);
    }
    lines.push(indent(textTable(table)));
    lines.push(
      '  Scans are counted per server: an index that only a replica uses shows 0 here. Primary key, unique and',
      '  exclusion indexes are not listed: they enforce something.',
    );
  }
  lines.push('', `Redundant indexes: ${report.duplicates.length}.`);
  const what = { duplicate: 'duplicates', prefix: 'is a left prefix of', covered: 'is covered by' };
  for (const d of report.duplicates) {
    lines.push(
      `  ${d.index} (${formatSize(d.bytes)}) ${what[d.kind]} ${d.covered_by} on ${d.table}`,
      `    drop:  ${d.definition}`,
      `    keep:  ${d.covered_by_definition}`,
      `    ${d.drop}`,
    );
  }
  lines.push('', `Invalid indexes: ${report.invalid.length}.`);
  for (const i of report.invalid) {
    lines.push(
      i.building
        ? `  ${i.index} on ${i.table}: being built (CREATE INDEX CONCURRENTLY in progress)`
        : `  ${i.index} on ${i.table} (${formatSize(i.bytes)}): invalid, maintained on every write, used by no query (a failed CREATE INDEX CONCURRENTLY?)`,
      `    ${i.definition}`,
    );
    if (i.drop !== null) lines.push(`    ${i.drop}`);
  }
  if (report.duplicates.length > 0 || report.invalid.some((i) => !i.building)) {
    lines.push('', 'The statements above are printed, not run.');
  }
  return `${lines.join('\n')}\n`;
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');

export const indexesCommand: DbSubcommand = {
  usage: 'headroom db indexes --database-url URL [--min-size SIZE] [--json]',
  summary: 'unused, duplicate and invalid indexes, with the DROP INDEX CONCURRENTLY lines to run',
  options: [
    ['--database-url URL', 'the database to read (postgres://user:password@host:port/database)'],
    ['--min-size SIZE', 'list unused indexes of at least SIZE (8192, 512kB, 1MB; default 1MB)'],
    ['--json', 'print the report as JSON: { database, stats_reset, unused, duplicates, invalid, ... }'],
  ],
  exitCodes:
    'Exit codes: 0 none redundant or invalid (unused indexes are listed, not failed: "unused" depends on the ' +
    'traffic since the statistics were reset), 1 redundant or invalid indexes, 2 bad usage or an unreachable database.',
  examples: [
    'headroom db indexes --database-url postgres://casebook@127.0.0.1:5432/casebook',
    'headroom db indexes --database-url "$DATABASE_URL" --min-size 0 --json > indexes.json',
  ],
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        'database-url': { type: 'string' },
        'min-size': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
    const url = values['database-url'];
    if (url === undefined) throw new DbUsageError('--database-url URL is required');
    const minSize = values['min-size'] === undefined ? undefined : parseSize(values['min-size']);
    if (minSize === undefined && values['min-size'] !== undefined) {
      throw new DbUsageError(
        `--min-size must be a size like 8192, 512kB or 1MB, got ${JSON.stringify(values['min-size'])}`,
      );
    }
    const report = await indexReport(url, minSize === undefined ? {} : { minSize });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : indexReportText(report));
    return report.duplicates.length > 0 || report.invalid.some((i) => !i.building) ? 1 : 0;
  },
};
