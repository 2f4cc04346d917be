// The one door to PostgreSQL for casebook's routes: plain queries and transactions on one pool, the time
// spent waiting for a connection measured, and a database that cannot answer turned into a 503 the client
// can retry (never a 500, never a hang: the pool's limits bound every wait, see pool.ts, and a route's own
// deadline from its budget bounds its calls tighter, see route-deadlines.ts).

import { type Clock, systemClock } from '@headroom/core/clock';
import { type CircuitBreakerPolicy, circuitBreaker, isBrokenCircuitError } from '@headroom/core/policy';
import { currentRoute, currentTiming, phase, sqlComment } from '@headroom/fastify';
import type { Attributes } from '@opentelemetry/api';
import type pg from 'pg';
import { casebookErrors } from '../errors.ts';

/** What the routes need of a pool; a pg.Pool satisfies it (tests wrap one to count statements). */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    config: string | pg.QueryConfig,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

export interface Database extends Queryable {
  /** Runs `fn` in one transaction on one connection; rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

/** A statement as it was sent: what the statement recorder (`npm run db:record`) keeps. */
export interface StatementSent {
  /** The statement's name (casebook names those of its routes), else its first keyword. */
  name: string;
  /** The SQL as written, without the route comment. */
  text: string;
  values: readonly unknown[] | undefined;
  /** The route being served (`GET /v1/cases/:id`), undefined outside a request. */
  route: string | undefined;
  /** The request being served (the same object for each of its statements), undefined outside a request. */
  request: object | undefined;
}

/** What the database reports as it is used. */
export interface DatabaseObserver {
  /** A connection was handed out after waiting `ms` (0 when one was idle). */
  acquired?(ms: number): void;
  /** A statement is about to be sent (for recording; keep it cheap). */
  statement?(sent: StatementSent): void;
}

// SQLSTATE classes and codes that mean "not now" rather than "wrong": a cancelled (timed out) statement,
// a server shutting down or starting, too many connections, out of resources, a broken connection.
const unavailableStates = /^(?:57014|57P0[123]|53\d{3}|08\d{3})$/;
const unavailableErrnos = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTCONN',
]);
// node-postgres's own messages for its client-side bounds and for a connection that died under a query.
const unavailableMessages =
  /timeout exceeded when trying to connect|Query read timeout|Connection terminated|connection error|Client was closed/i;

/**
 * True when `error` says the database cannot answer now (timeouts, refused or lost connections, a server
 * shutting down), as opposed to a query it answered with an error.
 *
 * @example
 * if (isDatabaseUnavailable(error)) throw unavailable(error);
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (unavailableStates.test(code) || unavailableErrnos.has(code))) return true;
  return typeof message === 'string' && unavailableMessages.test(message);
}

function rethrow(error: unknown): never {
  if (!isDatabaseUnavailable(error) && !isBrokenCircuitError(error)) throw error;
  throw casebookErrors.create(
    'HR_DATABASE_UNAVAILABLE',
    'the database did not answer in time; retry shortly',
    {
      cause: error,
      headers: { 'retry-after': '1' },
    },
  );
}

// A query config that the client gives up on after `deadline` ms (node-postgres's per-query `query_timeout`).
function withDeadline(config: string | pg.QueryConfig, deadline: number | undefined): pg.QueryConfig {
  if (deadline === undefined) return config as pg.QueryConfig;
  return typeof config === 'string'
    ? ({ text: config, query_timeout: deadline } as pg.QueryConfig)
    : ({ ...config, query_timeout: deadline } as pg.QueryConfig);
}

// The wait for a connection, bounded by the route's deadline too: a late connection goes back to the pool.
function withinDeadline(
  taking: Promise<pg.PoolClient>,
  deadline: number,
  clock: Clock,
): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = clock.setTimeout(() => {
      late = true;
      reject(new Error('timeout exceeded when trying to connect (the route deadline)'));
    }, deadline);
    taking.then(
      (client) => {
        timer.cancel();
        if (late) client.release();
        else resolve(client);
      },
      (error: unknown) => {
        timer.cancel();
        if (!late) reject(error);
      },
    );
  });
}

// A transaction's connection whose every query is tagged and carries the route's deadline.
function taggedClient(client: pg.PoolClient, deadline: number | undefined, tag: Tagger): Queryable {
  return {
    query: ((config: string | pg.QueryConfig, values?: unknown[]) =>
      client.query(withDeadline(tag(config, values), deadline), values)) as Queryable['query'],
  };
}

type Tagger = (config: string | pg.QueryConfig, values: unknown[] | undefined) => string | pg.QueryConfig;

/**
 * Adds the route comment to a statement and settles its name: kept per route when statements are prepared (the
 * text differs by route, and a prepared name stands for one text), dropped behind a transaction pooler.
 */
function statementTagger(pooler: boolean, record: DatabaseObserver['statement']): Tagger {
  // (route, name) → [comment, prepared name]: a few dozen entries, built once each.
  const known = new Map<string, [comment: string, prepared: string | undefined]>();
  return (config, values) => {
    const route = currentRoute();
    const name = typeof config === 'object' ? config.name : undefined;
    const text = typeof config === 'string' ? config : config.text;
    if (record)
      record({
        name: name ?? firstKeyword(text),
        text,
        values: values ?? (typeof config === 'object' ? config.values : undefined),
        route,
        request: currentTiming(),
      });
    const key = `${route}\u0000${name}`;
    let entry = known.get(key);
    if (entry === undefined) {
      const prepared = name === undefined || pooler ? undefined : `${name}@${known.size}`;
      entry = [sqlComment({ route, statement: name }), prepared];
      known.set(key, entry);
    }
    const [comment, prepared] = entry;
    if (comment === '' && typeof config === 'string') return config;
    const tagged: pg.QueryConfig =
      typeof config === 'string'
        ? { text: `${text}\n${comment}` }
        : { ...config, text: `${text}\n${comment}` };
    if (prepared === undefined) delete tagged.name;
    else tagged.name = prepared;
    return tagged;
  };
}

const firstKeyword = (text: string) => /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase() ?? 'QUERY';

// node-postgres's messages for a new connection the server did not take: not the pool's "timeout exceeded when
// trying to connect", which only says every connection was busy.
const unreachable = /Connection terminated due to connection timeout|ECONNREFUSED|ECONNRESET|EHOSTUNREACH/;

/**
 * The breaker in front of opening connections: after a run of connections the server did not take, the pool
 * stops trying (503 at once) and tries one a second. A frozen PostgreSQL otherwise collects every abandoned
 * attempt in its accept queue (about 35 a second at 200 requests/s), and after the thaw starts a backend for
 * each before it gets to the pool's new ones: recovery took 4 to 8 s (bench/db-freeze.ts).
 *
 * @example
 * const db = database(pool, {}, { connectBreaker: connectBreaker(clock) });
 */
export function connectBreaker(clock: Clock = systemClock()): CircuitBreakerPolicy {
  return circuitBreaker({
    name: 'database',
    window: { type: 'count', size: 10 },
    minimumCalls: 3,
    failureRateThreshold: 0.5,
    halfOpenAfter: { initial: 1_000, max: 1_000 },
    halfOpenProbes: 1,
    isFailure: (error) =>
      unreachable.test(String((error as { message?: unknown })?.message)) ||
      unreachable.test(String((error as { code?: unknown })?.code)),
    clock,
  });
}

/** How the database wrapper guards and bounds taking a connection. */
export interface ConnectOptions {
  /** Guards opening connections (see `connectBreaker`). @default none */
  connectBreaker?: CircuitBreakerPolicy;
  /** Times the route deadline on the wait for a connection. @default systemClock() */
  clock?: Clock;
  /**
   * The deadline (ms) of the calls made now, or undefined for the pool's bounds: casebook's is the current
   * route's (`routeDeadlineOf` in db/route-deadlines.ts). @default none
   */
  deadline?: () => number | undefined;
  /**
   * The pool reaches PostgreSQL through a transaction pooler (PgBouncer in transaction mode): consecutive
   * statements may run on different server connections, so none is prepared by name (an unnamed statement
   * lives within its own round trip). @default false
   */
  pooler?: boolean;
}

/**
 * Wraps a pool. Every statement carries a sqlcommenter comment naming the route being served and the statement
 * (`/*route='GET%20%2Fv1%2Fcases%2F%3Aid',statement='case-detail-1'*\/`), which `headroom db top` reads back out
 * of pg_stat_statements. Named statements (`{ name, text, values }`) are prepared once per connection and route,
 * unless `pooler` is set.
 *
 * @example
 * const db = database(new pg.Pool({ connectionString }));
 * await db.transaction(async (tx) => { await tx.query('...'); });
 */
export function database(
  pool: pg.Pool,
  observer: DatabaseObserver = {},
  options: ConnectOptions = {},
): Database {
  const clock = options.clock ?? systemClock();
  const breaker = options.connectBreaker;
  const deadlineOf = options.deadline ?? (() => undefined);
  const tag = statementTagger(options.pooler ?? false, observer.statement);
  const take = () => pool.connect();
  const connect = async (): Promise<pg.PoolClient> => {
    const started = performance.now();
    const taking = breaker ? breaker.execute(take) : take();
    const deadline = deadlineOf();
    const client = await (deadline === undefined ? taking : withinDeadline(taking, deadline, clock)).catch(
      rethrow,
    );
    observer.acquired?.(performance.now() - started);
    return client;
  };
  // Each call is phase `db` of the request (and a span named by its statement when traced): the wait for a
  // connection included, since that is database time the request spends.
  const query = (config: string | pg.QueryConfig, values?: unknown[]) => {
    const attributes = statementAttributes(config);
    const tagged = tag(config, values);
    return phase('db', () => run(tagged, values), attributes, attributes['db.query.summary'] as string);
  };
  const run = async (config: string | pg.QueryConfig, values?: unknown[]) => {
    const client = await connect();
    try {
      const result = await client.query(withDeadline(config, deadlineOf()), values);
      client.release();
      return result;
    } catch (error) {
      // A connection that timed out or broke is destroyed, not handed to the next caller.
      client.release(isDatabaseUnavailable(error) ? (error as Error) : undefined);
      rethrow(error);
    }
  };
  return {
    query: query as Queryable['query'],
    transaction: (fn) => phase('db', () => transaction(fn), transactionAttributes, 'TRANSACTION'),
  };

  async function transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await connect();
    const deadline = deadlineOf();
    try {
      // The route's deadline on the server too, for this transaction only (SET LOCAL ends with it), sent with
      // BEGIN in one simple query: one round trip, not two.
      await client.query(
        deadline === undefined ? 'BEGIN' : `BEGIN; SET LOCAL statement_timeout = ${deadline}`,
      );
      const result = await fn(taggedClient(client, deadline, tag));
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      const broken = isDatabaseUnavailable(error);
      if (!broken) await client.query('ROLLBACK').catch(() => {});
      client.release(broken ? (error as Error) : undefined);
      rethrow(error);
    }
  }
}

// Span attributes of a statement: the system, and the statement's name where it has one (casebook names the
// statements of its hot paths) or its first keyword, which also names the span (OTel's `{db.query.summary}`). The SQL text carries placeholders, never values.
const postgres = 'postgresql';
const transactionAttributes: Attributes = { 'db.system.name': postgres, 'db.operation.name': 'TRANSACTION' };
function statementAttributes(config: string | pg.QueryConfig): Attributes {
  const text = typeof config === 'string' ? config : config.text;
  const operation = firstKeyword(text);
  return {
    'db.system.name': postgres,
    'db.operation.name': operation,
    'db.query.summary': typeof config === 'object' && config.name ? config.name : operation,
    'db.query.text': text,
  };
}
