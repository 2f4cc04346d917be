// Records the statements casebook's routes send, as the statement catalogue `headroom db plans` explains and
// `headroom db top` attributes by: each distinct statement once, with its name, its text, the parameters of
// its first use, every route that sent it, and the most times one request sent it (an N+1 shows there).

import { createHash } from 'node:crypto';
import type { StatementSent } from '../../src/db/database.ts';
import { fuzzRoutes, type Issued } from './fuzz/routes.ts';
import { fuzzRoute } from './fuzz/run.ts';
import { type FuzzTarget, startFuzzTarget } from './fuzz/target.ts';

/** One statement of the catalogue (the JSON members `headroom db plans` and `db top` read). */
export interface CatalogueEntry {
  name: string;
  text: string;
  values: unknown[] | null;
  routes: string[];
  max_per_request: number;
}

/** The recorder: pass `record` as the app's `onStatement`, then read `catalogue()`. */
export interface StatementRecorder {
  record(sent: StatementSent): void;
  catalogue(): { queries: CatalogueEntry[] };
}

/**
 * A recorder for the statements of requests (statements sent outside a request, by job workers, are left out:
 * no route issued them).
 *
 * @example
 * const recorder = statementRecorder();
 * const t = await startTestApp({ deps: { onStatement: recorder.record } });
 */
export function statementRecorder(): StatementRecorder {
  const entries = new Map<string, CatalogueEntry & { routeSet: Set<string> }>();
  const perRequest = new WeakMap<object, Map<string, number>>();
  return {
    record(sent) {
      if (sent.route === undefined || sent.request === undefined) return;
      const text = sent.text.trim();
      let entry = entries.get(text);
      if (entry === undefined) {
        entry = {
          name: statementName(sent.name, text),
          text,
          values: sent.values === undefined ? null : sent.values.map(jsonValue),
          routes: [],
          routeSet: new Set(),
          max_per_request: 0,
        };
        entries.set(text, entry);
      }
      entry.routeSet.add(sent.route);
      let counts = perRequest.get(sent.request);
      if (counts === undefined) {
        counts = new Map();
        perRequest.set(sent.request, counts);
      }
      const n = (counts.get(text) ?? 0) + 1;
      counts.set(text, n);
      entry.max_per_request = Math.max(entry.max_per_request, n);
    },
    catalogue() {
      const queries = [...entries.values()]
        .map(({ routeSet, ...entry }) => ({ ...entry, routes: [...routeSet].sort() }))
        .sort((a, b) => a.name.localeCompare(b.name));
      return { queries };
    },
  };
}

// Named statements keep their names; an unnamed one is called by its first keyword and a digest of its text,
// stable for as long as the text is.
function statementName(name: string, text: string): string {
  if (!/^[A-Z]+$/.test(name)) return name;
  return `${name.toLowerCase()}-${createHash('sha256').update(text).digest('hex').slice(0, 8)}`;
}

// Parameters as PostgreSQL would take them as text: dates as ISO strings, bytes as \x hex.
function jsonValue(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  if (Array.isArray(value)) return value.map(jsonValue);
  return value ?? null;
}

/**
 * Sends every route the requests the fuzz suite draws (`runs` a route, seeds from `seed`), then each search
 * shape with and without a cursor (the fuzz suite's draws rarely hit all eight), to a casebook whose statements
 * `recorder` records; returns the catalogue.
 *
 * @example
 * const { queries } = await recordEveryRoute({ runs: 30, seed: 1 });
 */
export async function recordEveryRoute(options: { runs: number; seed: number }): Promise<{
  queries: CatalogueEntry[];
}> {
  const recorder = statementRecorder();
  const issued: Issued = { cursors: [], etags: [], names: [] };
  const target = await startFuzzTarget(issued, { onStatement: recorder.record });
  try {
    for (const [i, route] of fuzzRoutes(issued).entries()) {
      await fuzzRoute(target, issued, route, { runs: options.runs, seed: options.seed + i });
    }
    await everySearchShape(target);
  } finally {
    await target.t.close();
  }
  return recorder.catalogue();
}

async function everySearchShape(target: FuzzTarget): Promise<void> {
  for (const query of ['', 'q=fraud', 'status=open', 'q=fraud&status=open']) {
    const url = `/v1/cases/search?limit=2${query ? `&${query}` : ''}`;
    const first = await target.t.as(target.adminToken, { url });
    const cursor = first.json().page?.next_cursor as string | undefined;
    if (first.statusCode !== 200 || !cursor) throw new Error(`${url}: ${first.statusCode}, no next page`);
    await target.t.as(target.adminToken, { url: `${url}&cursor=${encodeURIComponent(cursor)}` });
  }
}
