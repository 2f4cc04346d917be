// The degrader's fleet-wide source: a rule's SLIs read from Prometheus (every instance's
// `http_request_duration_seconds` and `http_requests_total`, as @headroom/fastify exports them), instead of
// this process's own window. Three instant queries per rule and verdict, over the rule's window.

import { type Clock, systemClock } from '../clock/index.ts';
import { invalidOption } from '../errors/index.ts';
import { checkNumber } from '../shared/options.ts';
import { type Percentile, quantileOf, type StatusPattern } from './spec.ts';

/** What a degrader asks a source for: one rule's route, over its window. */
export interface SloQuery {
  method: string;
  /** The route template (`/v1/cases/search`), as the metrics label it. */
  route: string;
  /** Milliseconds of the recent past to read. */
  window: number;
  /** The latency percentiles the rule watches. */
  percentiles: readonly Percentile[];
  /** Statuses that count as errors (`5xx`, `429`…). */
  statuses: readonly StatusPattern[];
}

/** A source's reading of one rule: requests in the window, the error ratio and each watched percentile (ms). */
export interface SloReading {
  total: number;
  errorRatio: number;
  /** Each watched percentile's estimate in ms; absent when the window holds no request. */
  latency: Partial<Record<Percentile, number>>;
}

/** Where a degrader reads its SLIs when not from its own process (`createDegrader({ source })`). */
export interface DegradeSource {
  /** A name for logs and the admin API (`prometheus`). */
  readonly name: string;
  /** Rejects when the source cannot answer: the degrader then keeps every rule where it stands. */
  read(query: SloQuery): Promise<SloReading>;
}

/** Options of `prometheusSource`. */
export interface PrometheusSourceOptions {
  /** Prometheus' base URL (`http://prometheus:9090`). */
  url: string;
  /** Label matchers added to every selector (`job="casebook"`), to pick the service's series. @default none */
  selector?: string;
  /** Headers of every query (an Authorization in front of a managed Prometheus). @default none */
  headers?: Record<string, string>;
  /** Milliseconds a query may take. @default 2_000 */
  timeout?: number;
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch;
  clock?: Clock;
}

/** A label value as the content of a PromQL string literal (backslash, quote and newline escaped). */
export function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

/** `5xx` → `5..`, `429` → `429`: a status pattern as the regex of `code=~"…"`. */
function statusRegex(patterns: readonly StatusPattern[]): string {
  return patterns.map((p) => String(p).replace(/x/gi, '.')).join('|');
}

/**
 * The PromQL of one rule's reading: requests, failed requests and each percentile (in seconds), over `window`.
 * Exported for the docs and tests: what an operator can paste into Prometheus to see what the degrader sees.
 *
 * @example
 * sloQueries({ method: 'GET', route: '/v1/cases/search', window: 30_000, percentiles: ['p95'], statuses: ['5xx'] });
 */
export function sloQueries(
  query: SloQuery,
  selector = '',
): { total: string; failed: string; latency: Partial<Record<Percentile, string>> } {
  const seconds = Math.max(1, Math.round(query.window / 1000));
  const labels = `method="${escapeLabel(query.method)}",route="${escapeLabel(query.route)}"${selector ? `,${selector}` : ''}`;
  const latency: Partial<Record<Percentile, string>> = {};
  for (const p of query.percentiles) {
    latency[p] =
      `histogram_quantile(${quantileOf(p)}, sum by (le) (rate(http_request_duration_seconds_bucket{${labels}}[${seconds}s])))`;
  }
  return {
    total: `sum(increase(http_requests_total{${labels}}[${seconds}s]))`,
    failed: `sum(increase(http_requests_total{${labels},code=~"${statusRegex(query.statuses)}"}[${seconds}s]))`,
    latency,
  };
}

/**
 * An instant PromQL query whose answer is one number: undefined when no series matched (nothing happened in the
 * window) or the value is not a number (a quantile of nothing); rejects when Prometheus cannot answer in `timeout`.
 * The one Prometheus client of Headroom: the degrader's source and `headroom slo` both read through it.
 *
 * @example
 * const query = prometheusQuery({ url: 'http://127.0.0.1:9090' });
 * await query('sum(increase(http_requests_total[5m]))'); // 1234
 */
export function prometheusQuery(
  options: Omit<PrometheusSourceOptions, 'selector'>,
  caller = 'prometheusQuery',
): (promql: string) => Promise<number | undefined> {
  let base: URL;
  try {
    base = new URL('/api/v1/query', options.url);
  } catch {
    throw invalidOption(caller, 'url', 'an absolute http(s) URL', options.url);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw invalidOption(caller, 'url', 'an absolute http(s) URL', options.url);
  }
  const timeout = checkNumber(caller, 'timeout', options.timeout ?? 2_000, { min: 1 });
  const doFetch = options.fetch ?? globalThis.fetch;
  const clock = options.clock ?? systemClock();
  return async function scalar(promql: string): Promise<number | undefined> {
    const controller = new AbortController();
    const timer = clock.setTimeout(() => controller.abort(new Error(`no answer in ${timeout} ms`)), timeout);
    try {
      const url = new URL(base);
      url.searchParams.set('query', promql);
      const res = await doFetch(url, { headers: options.headers ?? {}, signal: controller.signal });
      const body = (await res.json()) as {
        status?: string;
        error?: string;
        data?: { resultType?: string; result?: { value?: [number, string] }[] };
      };
      if (!res.ok || body.status !== 'success') {
        throw new Error(`prometheus answered ${res.status}: ${body.error ?? 'no error given'}`);
      }
      const value = body.data?.result?.[0]?.value?.[1];
      if (value === undefined) return undefined; // no series: no requests in the window
      const n = Number(value);
      return Number.isFinite(n) ? n : undefined; // NaN: a quantile of nothing
    } finally {
      timer.cancel();
    }
  };
}

/**
 * A degrader source reading every instance's metrics from Prometheus: the fleet's p95 and error ratio rather
 * than one process's. `histogram_quantile` interpolates inside a bucket, so a budget that is a bucket edge is
 * read exactly and others approximately; the window should span a few scrape intervals.
 *
 * @example
 * const degrader = createDegrader({ rules: spec.degrade, target: flags, clock,
 *   source: prometheusSource({ url: 'http://127.0.0.1:9090', selector: 'job="casebook"' }) });
 */
export function prometheusSource(options: PrometheusSourceOptions): DegradeSource {
  const scalar = prometheusQuery(options, 'prometheusSource');
  const selector = options.selector ?? '';

  return {
    name: 'prometheus',
    async read(query) {
      const q = sloQueries(query, selector);
      const percentiles = Object.entries(q.latency) as [Percentile, string][];
      const [total, failed, ...values] = await Promise.all([
        scalar(q.total),
        scalar(q.failed),
        ...percentiles.map(([, promql]) => scalar(promql)),
      ]);
      const latency: Partial<Record<Percentile, number>> = {};
      percentiles.forEach(([p], i) => {
        const seconds = values[i];
        if (seconds !== undefined) latency[p] = seconds * 1000;
      });
      const requests = total ?? 0;
      return { total: requests, errorRatio: requests > 0 ? (failed ?? 0) / requests : 0, latency };
    },
  };
}
