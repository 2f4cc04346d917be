// What `headroom db plans` reads out of one `EXPLAIN (VERBOSE, FORMAT JSON)` plan: its shape (the tree without
// costs, stable enough to commit), the checks that fail a plan on its own (a sequential scan of a large table, a
// nested loop over many outer rows, a statement sent N times in one request) and against its snapshot (cost up
// past the threshold, an index scan turned sequential), and the index a sequential scan's Filter asks for.

/** The members of an EXPLAIN (FORMAT JSON) plan node this module reads. */
export interface PlanNode {
  'Node Type': string;
  'Parent Relationship'?: string;
  'Parallel Aware'?: boolean;
  'Relation Name'?: string;
  /** With VERBOSE only. */
  Schema?: string;
  Alias?: string;
  'Index Name'?: string;
  'Total Cost': number;
  'Plan Rows': number;
  Filter?: string;
  'Sort Key'?: string[];
  Plans?: PlanNode[];
  /** The many members not read here (Startup Cost, Output, Index Cond, ...). */
  [member: string]: unknown;
}

/** One thing a check found in a query's plan. */
export interface PlanFinding {
  check: 'seq-scan' | 'nested-loop' | 'n-plus-one' | 'cost' | 'shape' | 'new' | 'explain';
  /** Fails the run (exit 1); otherwise only reported. */
  fails: boolean;
  message: string;
  /** For a sequential scan: the index to consider (never applied). */
  suggestion?: string;
}

/** A query as the snapshot keeps it. */
export interface SnapshotEntry {
  /** The root's Total Cost, to 2 decimals. */
  cost: number;
  /** The root's Plan Rows. */
  rows: number;
  shape: string[];
}

/** How a plan's shape compares to its snapshot. */
export type ShapeVerdict = 'same' | 'changed' | 'seq-scan regression' | 'new';

function nodeLabel(node: PlanNode): string {
  let label = `${node['Parallel Aware'] ? 'Parallel ' : ''}${node['Node Type']}`;
  if (node['Index Name'] !== undefined) label += ` using ${node['Index Name']}`;
  if (node['Relation Name'] !== undefined) label += ` on ${node['Relation Name']}`;
  return label;
}

/**
 * The plan tree in pre-order, a line per node, indented two spaces a level: node type, index and relation, with
 * no costs or row counts, so it changes only when the plan does.
 *
 * @example
 * planShape(plan) // ['Limit', '  Index Scan using cases_tenant_created on cases']
 */
export function planShape(root: PlanNode): string[] {
  const lines: string[] = [];
  const walk = (node: PlanNode, depth: number) => {
    lines.push(`${'  '.repeat(depth)}${nodeLabel(node)}`);
    for (const child of node.Plans ?? []) walk(child, depth + 1);
  };
  walk(root, 0);
  return lines;
}

/** The snapshot entry of a plan: root cost to 2 decimals, root rows, shape. */
export function snapshotEntry(root: PlanNode): SnapshotEntry {
  return {
    cost: Math.round(root['Total Cost'] * 100) / 100,
    rows: root['Plan Rows'],
    shape: planShape(root),
  };
}

// Visits every node with the chain of its ancestors, nearest last.
function visit(root: PlanNode, fn: (node: PlanNode, ancestors: PlanNode[]) => void): void {
  const walk = (node: PlanNode, ancestors: PlanNode[]) => {
    fn(node, ancestors);
    for (const child of node.Plans ?? []) walk(child, [...ancestors, node]);
  };
  walk(root, []);
}

/** Limits of {@link planFindings}. */
export interface PlanLimits {
  /** A table with more rows than this (pg_class.reltuples) must not be scanned sequentially. */
  largeTable: number;
  /** A nested loop's outer side must not estimate more rows than this. */
  largeRows: number;
  /** The rows of `schema.relation`, or undefined when unknown (never analysed). */
  tableRows(schema: string | undefined, relation: string): number | undefined;
}

/**
 * Checks 1 and 2 of a plan: a sequential scan of a large table (with the index its Filter suggests), a nested
 * loop whose outer side estimates more than `largeRows` rows. Both fail.
 *
 * @example
 * planFindings(plan, { largeTable: 10_000, largeRows: 10_000, tableRows: () => 100_000 })
 * // [{ check: 'seq-scan', fails: true, message: 'Seq Scan on cases: 100000 rows in the table ...', suggestion: ... }]
 */
export function planFindings(root: PlanNode, limits: PlanLimits): PlanFinding[] {
  const findings: PlanFinding[] = [];
  visit(root, (node, ancestors) => {
    const relation = node['Relation Name'];
    if (node['Node Type'] === 'Seq Scan' && relation !== undefined) {
      const rows = limits.tableRows(node.Schema, relation);
      if (rows !== undefined && rows > limits.largeTable) {
        findings.push({
          check: 'seq-scan',
          fails: true,
          message: `${nodeLabel(node)}: ${Math.round(rows)} rows in the table (--large-table ${limits.largeTable})`,
          suggestion: suggestIndex(node, ancestors),
        });
      }
    }
    if (node['Node Type'] === 'Nested Loop') {
      const outer = node.Plans?.find((p) => p['Parent Relationship'] === 'Outer') ?? node.Plans?.[0];
      if (outer !== undefined && outer['Plan Rows'] > limits.largeRows) {
        findings.push({
          check: 'nested-loop',
          fails: true,
          message: `Nested Loop over ${outer['Plan Rows']} estimated outer rows from ${nodeLabel(outer)} (--large-rows ${limits.largeRows}): a hash or merge join, or an index that narrows the outer side, would not repeat the inner side that often`,
        });
      }
    }
  });
  return findings;
}

/**
 * Check 3: a statement the catalogue saw sent `maxPerRequest` ≥ `limit` times in one request (an N+1). Fails.
 *
 * @example
 * nPlusOneFinding(5, ['GET /v1/cases/:id'], 3)?.message
 * // 'sent up to 5 times in one request (--n-plus-one 3) by GET /v1/cases/:id: ...'
 */
export function nPlusOneFinding(
  maxPerRequest: number,
  routes: string[],
  limit: number,
): PlanFinding | undefined {
  if (maxPerRequest < limit) return undefined;
  const by = routes.length > 0 ? routes.join(', ') : 'a request the catalogue names no route for';
  return {
    check: 'n-plus-one',
    fails: true,
    message: `sent up to ${maxPerRequest} times in one request (--n-plus-one ${limit}) by ${by}: fetch the rows in one statement (a join, or WHERE id = ANY($1))`,
  };
}

// `[Parallel ]<scan type>[ using <index>] on <relation>` in a shape line.
const scanLine =
  /^\s*(?:Parallel )?(Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan)(?: using (.+?))? on (.+)$/;
const indexed = new Set(['Index Scan', 'Index Only Scan', 'Bitmap Heap Scan']);

/** A relation the snapshot read through an index that is now scanned sequentially. */
export interface SeqScanRegression {
  relation: string;
  /** How the snapshot read it: `Index Scan using cases_pkey`, `Bitmap Heap Scan`. */
  was: string;
}

/**
 * Compares a shape with its snapshot's: `same`; `seq-scan regression` when a relation the snapshot read through
 * an index (or bitmap) is now scanned sequentially more often than before; else `changed` (join order, index name).
 *
 * @example
 * compareShapes(['Index Scan using cases_pkey on cases'], ['Seq Scan on cases'])
 * // { verdict: 'seq-scan regression', regressions: [{ relation: 'cases', was: 'Index Scan using cases_pkey' }] }
 */
export function compareShapes(
  before: string[],
  now: string[],
): { verdict: Exclude<ShapeVerdict, 'new'>; regressions: SeqScanRegression[] } {
  if (before.length === now.length && before.every((line, i) => line === now[i])) {
    return { verdict: 'same', regressions: [] };
  }
  const scans = (shape: string[]) => {
    const byRelation = new Map<string, { seq: number; index: string[] }>();
    for (const line of shape) {
      const m = scanLine.exec(line);
      if (!m) continue;
      const [, type, index, relation] = m as unknown as [string, string, string | undefined, string];
      const entry = byRelation.get(relation) ?? { seq: 0, index: [] };
      if (type === 'Seq Scan') entry.seq++;
      else if (indexed.has(type)) entry.index.push(index === undefined ? type : `${type} using ${index}`);
      byRelation.set(relation, entry);
    }
    return byRelation;
  };
  const old = scans(before);
  const regressions: SeqScanRegression[] = [];
  for (const [relation, { seq }] of scans(now)) {
    const was = old.get(relation);
    if (was !== undefined && was.index.length > 0 && seq > was.seq) {
      regressions.push({ relation, was: was.index.join(', ') });
    }
  }
  return { verdict: regressions.length > 0 ? 'seq-scan regression' : 'changed', regressions };
}

/**
 * Lines of one shape not in the other, `-` for the snapshot's and `+` for now's (as a multiset, not an aligned
 * diff: enough to see which scan or join moved).
 */
export function shapeDiff(before: string[], now: string[]): string[] {
  const count = (lines: string[]) => {
    const m = new Map<string, number>();
    for (const l of lines) m.set(l.trim(), (m.get(l.trim()) ?? 0) + 1);
    return m;
  };
  const a = count(before);
  const b = count(now);
  const only = (lines: string[], mine: Map<string, number>, theirs: Map<string, number>, sign: string) => {
    const left = new Map([...mine].map(([l, n]) => [l, n - (theirs.get(l) ?? 0)]));
    return lines
      .filter((l) => {
        const n = left.get(l.trim()) ?? 0;
        left.set(l.trim(), n - 1);
        return n > 0;
      })
      .map((l) => `${sign} ${l.trim()}`);
  };
  return [...only(before, a, b, '-'), ...only(now, b, a, '+')];
}

/** Options of {@link snapshotFindings}. */
export interface SnapshotCheck {
  /** The cost rise that fails, as a ratio (0.2 for 20%). */
  threshold: number;
  /** The snapshot is being rewritten: nothing here fails, all of it is still reported. */
  update: boolean;
  /** The `--large-table` limit: a table known to be no larger may turn to a sequential scan without failing. */
  largeTable: number;
  /** The rows of a relation by its unqualified name, or undefined when unknown. */
  tableRows(relation: string): number | undefined;
}

/**
 * Check 4: a plan against its snapshot entry. Cost up by more than the threshold fails; an index scan turned
 * sequential fails, unless the table is known to hold no more than `largeTable` rows (the planner rightly reads
 * an empty or tiny table whole: reported, not failing); any other shape change is a note; a query the snapshot
 * lacks is `new` and fails until `--update` adds it.
 *
 * @example
 * const { verdict, findings } = snapshotFindings(snapshot.queries[name], snapshotEntry(plan),
 *   { threshold: 0.2, update: false, largeTable: 10_000, tableRows: () => undefined });
 */
export function snapshotFindings(
  before: SnapshotEntry | undefined,
  now: SnapshotEntry,
  check: SnapshotCheck,
): { verdict: ShapeVerdict; delta: number | undefined; findings: PlanFinding[] } {
  const { threshold, update } = check;
  if (before === undefined) {
    // With --update the verdict says it all: the query is being added.
    const findings: PlanFinding[] = update
      ? []
      : [
          {
            check: 'new',
            fails: true,
            message: 'not in the snapshot: run with --update to add it, and commit the snapshot',
          },
        ];
    return { verdict: 'new', delta: undefined, findings };
  }
  const findings: PlanFinding[] = [];
  const delta = costDelta(before.cost, now.cost);
  if (delta > threshold) {
    findings.push({
      check: 'cost',
      fails: !update,
      message: `cost ${before.cost.toFixed(2)} → ${now.cost.toFixed(2)} (${percent(delta)}), over the ${percent(threshold, false)} threshold`,
    });
  }
  const compared = compareShapes(before.shape, now.shape);
  let verdict: ShapeVerdict = compared.verdict === 'same' ? 'same' : 'changed';
  for (const { relation, was } of compared.regressions) {
    const rows = check.tableRows(relation);
    const small = rows !== undefined && rows <= check.largeTable;
    if (!small) verdict = 'seq-scan regression';
    findings.push({
      check: 'shape',
      fails: !update && !small,
      message: `${relation} is now scanned sequentially, was ${was}${small ? `; not failing: ${Math.round(rows)} rows in the table (--large-table ${check.largeTable})` : ''}`,
    });
  }
  if (verdict !== 'same') {
    findings.push({
      check: 'shape',
      fails: false,
      message: `plan shape changed: ${shapeDiff(before.shape, now.shape).join('; ')}`,
    });
  }
  return { verdict, delta, findings };
}

/** (now − before) / before; a rise from 0 is infinite. */
export function costDelta(before: number, now: number): number {
  if (before === 0) return now === 0 ? 0 : Number.POSITIVE_INFINITY;
  return (now - before) / before;
}

/** `+12.5%`, `-3.0%` (a signed percentage to one decimal). */
export function percent(ratio: number, signed = true): string {
  if (!Number.isFinite(ratio)) return '+∞%';
  const text = `${(ratio * 100).toFixed(1)}%`;
  return signed && ratio >= 0 ? `+${text}` : text;
}

// An identifier as ruleutils deparses it (lower case unless quoted), optionally qualified by a table alias.
const ident = `(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")`;
const columnRef = String.raw`(?:(${ident})\.)?(${ident})`;
const plainName = /^[a-z_][a-z0-9_$]*$/;
const quoteName = (name: string) => (plainName.test(name) ? name : `"${name.replaceAll('"', '""')}"`);
const unquote = (name: string) => (name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name);
// `(column op` or `((column)::type op`: the left side of a comparison, as EXPLAIN prints a Filter.
const comparison = new RegExp(
  String.raw`\((?:\(${columnRef}\)::[a-z_ ]+(?:\[\])?|${columnRef})\s+(IS NULL|IS NOT NULL|=|<>|<=|>=|<|>|~~\*?|!~~\*?|@@|[^\s\w()'"]+)`,
  'g',
);
// `($1 = column)`, `(5 < column)`: a parameter or constant on the left, as written in the query.
const reversed = new RegExp(
  String.raw`\((?:\$\d+|-?\d+(?:\.\d+)?|''(?:::[a-z_ ]+)?)\s+(=|<=|>=|<|>)\s+(?:\(${columnRef}\)::[a-z_ ]+|${columnRef})\)`,
  'g',
);
const flip: Record<string, string> = { '<': '>', '>': '<', '<=': '>=', '>=': '<=', '=': '=' };

/** The columns a Filter compares: equality (`=`, `= ANY`, `IS NULL`), range (`<`, `>`, ...) and anything else. */
export interface FilterColumns {
  equality: string[];
  range: string[];
  /** Columns compared by an operator a B-tree does not serve (`<>`, `@@`, `~~`), as `column op`. */
  other: string[];
}

/**
 * The columns of `alias` (or unqualified ones) that a scan's Filter compares. String literals are blanked
 * first, so a quoted `(a = b)` is not read as a comparison. Modest by design: a column inside a function call
 * (`lower(email) = ...`) or a row comparison is not found.
 *
 * @example
 * filterColumns("((tenant_id = 1) AND (status = 'open'::text) AND (created_at > $3))", 'cases')
 * // { equality: ['tenant_id', 'status'], range: ['created_at'], other: [] }
 */
export function filterColumns(filter: string, alias?: string): FilterColumns {
  const text = filter.replace(/'(?:[^']|'')*'/g, "''");
  const found: { column: string; op: string; at: number }[] = [];
  // ruleutils quotes a prefix as it quotes any name: "Cases".id for the alias Cases.
  const ours = (prefix: string | undefined) =>
    prefix === undefined || alias === undefined || unquote(prefix) === alias;
  for (const m of text.matchAll(comparison)) {
    const prefix = m[1] ?? m[3];
    const column = (m[2] ?? m[4])!;
    let op = m[5]!;
    if (op === '=' && text.startsWith(' ANY', m.index + m[0].length)) op = '= ANY';
    if (ours(prefix)) found.push({ column, op, at: m.index });
  }
  for (const m of text.matchAll(reversed)) {
    const prefix = m[2] ?? m[4];
    const column = (m[3] ?? m[5])!;
    if (ours(prefix)) found.push({ column, op: flip[m[1]!]!, at: m.index });
  }
  found.sort((a, b) => a.at - b.at);
  const columns: FilterColumns = { equality: [], range: [], other: [] };
  for (const { column, op } of found) {
    const kind = ['=', '= ANY', 'IS NULL'].includes(op)
      ? columns.equality
      : ['<', '<=', '>', '>='].includes(op)
        ? columns.range
        : columns.other;
    const entry = kind === columns.other ? `${column} ${op}` : column;
    if (!kind.includes(entry)) kind.push(entry);
  }
  columns.range = columns.range.filter((c) => !columns.equality.includes(c));
  return columns;
}

// `created_at DESC`, `c.id`, `x.occurred_at DESC NULLS LAST`: a sort key that is a plain column.
const sortKeyPattern = new RegExp(`^${columnRef}((?: DESC)?(?: NULLS (?:FIRST|LAST))?)$`);

// The ORDER BY of the nearest Sort above a scan, when every key is a plain column of that scan's relation.
function scanSortKeys(
  scan: PlanNode,
  ancestors: PlanNode[],
): { column: string; order: string }[] | undefined {
  const sort = ancestors.findLast((a) => a['Sort Key'] !== undefined);
  if (sort === undefined) return undefined;
  const keys: { column: string; order: string }[] = [];
  for (const key of sort['Sort Key']!) {
    const m = sortKeyPattern.exec(key);
    if (!m || (m[1] !== undefined && unquote(m[1]) !== scan.Alias)) return undefined;
    keys.push({ column: m[2]!, order: m[3]! });
  }
  return keys.length > 0 ? keys : undefined;
}

/**
 * The index a sequential scan's Filter asks for, as advice (never applied): its equality columns first, then one
 * range column; and, when a Sort above orders by columns of the same relation, the index that serves the ORDER BY
 * too. Says so when the Filter names no column it can read.
 *
 * @example
 * suggestIndex({ 'Node Type': 'Seq Scan', 'Relation Name': 'cases', Alias: 'cases',
 *   Filter: "((tenant_id = 1) AND (status = 'open'::text))", 'Total Cost': 42, 'Plan Rows': 30 }, [])
 * // 'CREATE INDEX CONCURRENTLY ON cases (tenant_id, status);'
 */
export function suggestIndex(scan: PlanNode, ancestors: PlanNode[] = []): string {
  const relation = scan['Relation Name'] ?? '?';
  const table =
    scan.Schema !== undefined && scan.Schema !== 'public'
      ? `${quoteName(scan.Schema)}.${quoteName(relation)}`
      : quoteName(relation);
  const columns = filterColumns(scan.Filter ?? '', scan.Alias);
  const create = (cols: string[]) => `CREATE INDEX CONCURRENTLY ON ${table} (${cols.join(', ')});`;
  const leading = [...columns.equality, ...columns.range.slice(0, 1)];
  const sentences =
    leading.length > 0
      ? [create(leading)]
      : [
          `No index suggested for ${table}: ${scan.Filter === undefined ? 'it has no Filter' : `no column comparison found in its Filter ${scan.Filter}`}.`,
        ];
  if (columns.other.length > 0) {
    sentences.push(`It also filters on ${columns.other.join(', ')}, which a B-tree index does not serve.`);
  }
  const sortKeys = scanSortKeys(scan, ancestors);
  if (sortKeys !== undefined) {
    // The equality columns, then the sort keys: the index hands the rows over in order, with no Sort.
    const keys = sortKeys.filter((k) => !columns.equality.includes(k.column));
    const serving = [...columns.equality.map((c) => ({ column: c, order: '' })), ...keys];
    const orderBy = sortKeys.map((k) => `${k.column}${k.order}`).join(', ');
    sentences.push(
      serving.map((k) => k.column).join() === leading.join()
        ? `It also serves the ORDER BY ${orderBy}.`
        : `The query sorts by ${orderBy}: to serve the ORDER BY${leading.length > 0 ? ' too' : ''}, ${create(serving.map((k) => `${k.column}${k.order}`))}`,
    );
  }
  return sentences.join(' ');
}
