// The generator's own HTTP/1.1 client for http: targets: keep-alive sockets from `node:net`, one request at
// a time on each, requests serialized once per plain step, answers parsed from one shared read buffer.
//
// Why not undici: even through Pool.dispatch with an empty handler, undici does per request what a load
// generator cannot afford (a Request object, header validation and lower-casing, llhttp through WASM, a
// Readable socket with 'data' chunks, a timer), and cost more generator CPU per request than autocannon's
// whole loop when it was tried. This client costs less than autocannon and more than wrk (`npm run
// bench:load-throughput` prints all three); most of what it costs is the kernel's write and read of each
// request. The generator shares the machine with the server, so every microsecond it saves is the server's.
// What undici does that this does not (TLS) stays with undici: see createTransport.

import { Connection, type ConnectionOwner, TimeoutError } from './http1-connection.ts';
import { serializeRequest } from './serialize-request.ts';
import type { Exchange, PreparedRequest, RequestParts, Transport, TransportOptions } from './transport.ts';

const readBufferBytes = 64 * 1024;

/**
 * A pool of up to `connections` keep-alive sockets to one http: origin. Exchanges beyond the free sockets
 * wait in order; a failure (refused, reset, timed out, malformed answer) fails only the exchange it hit.
 *
 * @example
 * const pool = new Http1Pool('http://127.0.0.1:3000', { connections: 64, timeoutMs: 10_000, now });
 * const request = pool.prepare({ method: 'GET', path: '/page', headers: {} });
 * pool.send({ request, keepBody: false, onResponse(status) {}, onError(error) {} });
 */
export class Http1Pool implements Transport, ConnectionOwner {
  readonly now: () => number;
  readonly timeoutMs: number;
  readonly #host: string;
  readonly #port: number;
  readonly #authority: string;
  readonly #maxConnections: number;
  readonly #readBuffer = Buffer.allocUnsafe(readBufferBytes);
  readonly #connections = new Set<Connection>();
  /** Free sockets, the most recently used last (reused first, so the others can age out). */
  readonly #idle: Connection[] = [];
  #waiting: Exchange[] = [];
  #waitingHead = 0;
  #connecting = 0;
  #closed = false;
  readonly #sweep: NodeJS.Timeout;

  constructor(target: string, options: TransportOptions) {
    const url = new URL(target);
    if (url.protocol !== 'http:') throw new Error(`Http1Pool speaks http: only, not ${url.protocol}`);
    if (!(options.connections >= 1))
      throw new Error(`connections must be at least 1, not ${options.connections}`);
    this.#host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#port = Number(url.port || 80);
    this.#authority = url.host;
    this.#maxConnections = options.connections;
    this.timeoutMs = options.timeoutMs;
    this.now = options.now;
    // One sweep for every deadline instead of a timer per request.
    this.#sweep = setInterval(() => this.#expire(), Math.min(1_000, Math.max(5, options.timeoutMs / 10)));
    this.#sweep.unref();
  }

  prepare(parts: RequestParts): PreparedRequest {
    return { ...parts, bytes: serializeRequest(parts, this.#authority) };
  }

  send(exchange: Exchange): void {
    const now = this.now();
    if (this.#closed) {
      exchange.onError(new Error('the connection pool is closed'), now, now);
      return;
    }
    const connection = this.#takeIdle(now);
    if (connection) connection.start(exchange, now);
    else {
      this.#waiting.push(exchange);
      this.#grow();
    }
  }

  warm(count: number): Promise<void> {
    const opening: Promise<unknown>[] = [];
    while (this.#connections.size < Math.min(count, this.#maxConnections) && !this.#closed) {
      const { socket } = this.#open();
      opening.push(new Promise((resolve) => socket.once('connect', resolve).once('close', resolve)));
    }
    return Promise.all(opening).then(() => undefined);
  }

  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweep);
    const error = new Error('the connection pool closed');
    for (let next = this.#shift(); next; next = this.#shift()) next.onError(error, this.now(), this.now());
    const closing = [...this.#connections].map(
      (c) => new Promise<void>((resolve) => (c.socket.closed ? resolve() : c.socket.once('close', resolve))),
    );
    for (const connection of this.#connections) connection.fail(undefined);
    return Promise.all(closing).then(() => undefined);
  }

  opened(connection: Connection, now: number): void {
    this.#connecting--;
    this.ready(connection, now);
  }

  /** A connection is free: it takes the oldest waiting exchange, or waits for one. */
  ready(connection: Connection, now: number): void {
    const next = this.#shift();
    if (next) connection.start(next, now);
    else this.#idle.push(connection);
  }

  lost(connection: Connection, error: Error | undefined, connected: boolean): void {
    this.#connections.delete(connection);
    const at = this.#idle.indexOf(connection);
    if (at >= 0) this.#idle.splice(at, 1);
    if (!connected) {
      this.#connecting--;
      // The exchange that asked for this connection learns why it could not be made.
      const next = error ? this.#shift() : undefined;
      if (next) next.onError(error!, this.now(), this.now());
    }
    if (!this.#closed) this.#grow();
  }

  #takeIdle(now: number): Connection | undefined {
    for (let connection = this.#idle.pop(); connection; connection = this.#idle.pop()) {
      if (connection.socket.destroyed) continue; // failed while idle; its 'close' has not come yet
      if (now - connection.idleSince <= connection.idleLimitMs) return connection;
      connection.fail(undefined); // the server may be closing it: do not race that with a request
    }
    return undefined;
  }

  /** Opens connections for the exchanges that no connection being opened will serve. */
  #grow(): void {
    const waiting = this.#waiting.length - this.#waitingHead;
    while (this.#connecting < waiting && this.#connections.size < this.#maxConnections) this.#open();
  }

  #open(): Connection {
    const connection = new Connection(this.#host, this.#port, this, this.#readBuffer);
    this.#connections.add(connection);
    this.#connecting++;
    return connection;
  }

  #shift(): Exchange | undefined {
    if (this.#waitingHead >= this.#waiting.length) return undefined;
    const next = this.#waiting[this.#waitingHead];
    this.#waiting[this.#waitingHead++] = undefined as unknown as Exchange;
    if (this.#waitingHead === this.#waiting.length) {
      this.#waiting.length = 0;
      this.#waitingHead = 0;
    } else if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#waitingHead);
      this.#waitingHead = 0;
    }
    return next;
  }

  #expire(): void {
    const now = this.now();
    for (const connection of this.#connections) {
      if (now > connection.deadline)
        connection.fail(new TimeoutError(`no answer within ${this.timeoutMs} ms`));
      else if (
        connection.deadline === Number.POSITIVE_INFINITY &&
        now - connection.idleSince > connection.idleLimitMs
      )
        connection.fail(undefined);
    }
  }
}
