// One keep-alive socket of the lean pool: one request at a time, its answer parsed straight from a read
// buffer shared by the pool (`onread`: no stream chunks, no 'data' events).

import { connect, type Socket } from 'node:net';
import { ResponseParser, type ResponseSink } from './http1-response-parser.ts';
import type { Exchange } from './transport.ts';

/** What a connection tells its pool. */
export interface ConnectionOwner {
  readonly now: () => number;
  readonly timeoutMs: number;
  /** The socket connected: it can take a request. */
  opened(connection: Connection, now: number): void;
  /** The connection's last answer came and it stays open: it can take another request. */
  ready(connection: Connection, now: number): void;
  /** The socket closed; `error` says why when it failed (`connected` false: it never connected). */
  lost(connection: Connection, error: Error | undefined, connected: boolean): void;
}

/** An exchange that outlived the time allowed to connect, to the headers or between body chunks. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
}

/** Keep-alive idle time assumed when the server gives no `Keep-Alive: timeout=` hint (undici's default). */
const defaultIdleMs = 4_000;

/**
 * A socket to the target and the exchange on it, if any.
 *
 * @example
 * const connection = new Connection('127.0.0.1', 3000, pool, readBuffer);
 */
export class Connection implements ResponseSink {
  readonly socket: Socket;
  /** When the connection fails unless the server is heard from (∞ while idle). */
  deadline: number;
  /** When the connection last became idle. */
  idleSince = 0;
  readonly #owner: ConnectionOwner;
  readonly #parser = new ResponseParser(this);
  #exchange: Exchange | undefined;
  #sentMs = 0;
  #connected = false;
  #error: Error | undefined;

  constructor(host: string, port: number, owner: ConnectionOwner, readBuffer: Buffer) {
    this.#owner = owner;
    this.deadline = owner.now() + owner.timeoutMs;
    this.socket = connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: readBuffer, callback: (bytes: number) => this.#read(readBuffer, bytes) },
    });
    this.socket.on('connect', () => {
      this.#connected = true;
      this.deadline = Number.POSITIVE_INFINITY;
      const now = owner.now();
      this.idleSince = now;
      owner.opened(this, now);
    });
    this.socket.on('error', (error) => {
      this.#error ??= error;
    });
    this.socket.on('end', () => {
      try {
        this.#parser.finish();
      } catch (error) {
        this.#error ??= error as Error;
      }
    });
    this.socket.on('close', () => {
      const exchange = this.#exchange;
      this.#exchange = undefined;
      owner.lost(this, this.#error, this.#connected);
      if (exchange) {
        const error = this.#error ?? new Error('the server closed the connection');
        exchange.onError(error, this.#sentMs, owner.now());
      }
    });
  }

  /** How long this connection may sit idle and still be reused: a little under the server's own limit. */
  get idleLimitMs(): number {
    const hint = this.#parser.keepAliveHintMs;
    if (hint === undefined) return defaultIdleMs;
    return hint > 2_000 ? hint - 1_000 : hint / 2;
  }

  /** Writes `exchange`'s request; the connection must be idle. */
  start(exchange: Exchange, now: number): void {
    this.#exchange = exchange;
    this.#sentMs = now;
    this.deadline = now + this.#owner.timeoutMs;
    this.#parser.expect(exchange.keepBody, exchange.request.method === 'HEAD', exchange.phases);
    this.socket.write(exchange.request.bytes!);
  }

  /** Closes the socket; an exchange on it fails with `error`. */
  fail(error: Error | undefined): void {
    if (error) this.#error ??= error;
    this.socket.destroy();
  }

  /** From the parser: the exchange's answer is complete. */
  onResponse(status: number, body: Buffer | undefined, keepAlive: boolean, timings?: Float64Array): void {
    const exchange = this.#exchange!;
    const sentMs = this.#sentMs;
    this.#exchange = undefined;
    const now = this.#owner.now();
    this.deadline = Number.POSITIVE_INFINITY;
    // Free first, so that a waiting exchange goes out now; it may start on this very connection.
    if (keepAlive) {
      this.idleSince = now;
      this.#owner.ready(this, now);
    } else this.socket.destroy();
    exchange.onResponse(status, body, sentMs, now, timings);
  }

  /** Always true: reading never pauses (one request at a time, answers parsed as they come). */
  #read(buffer: Buffer, bytes: number): boolean {
    const exchange = this.#exchange;
    try {
      this.#parser.execute(buffer, 0, bytes);
    } catch (error) {
      this.fail(error as Error);
      return true;
    }
    // An answer still coming in: the body timeout restarts with every read.
    if (exchange !== undefined && this.#exchange === exchange)
      this.deadline = this.#owner.now() + this.#owner.timeoutMs;
    return true;
  }
}
