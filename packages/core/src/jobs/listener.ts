// One LISTEN connection per queue client, shared by its workers: notifications fan out in-process, so a NOTIFY
// costs one delivery per process, not one per worker. Lost connections are reopened with backoff, and every
// reopening is announced, since notifications sent while it was down are gone and workers must look.

import type { Clock, Timer } from '../clock/index.ts';

/** What LISTEN needs of a connection (node-postgres's `Client` has it). */
export interface ListenClient {
  query(text: string): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  end(): Promise<void>;
}

/** A notification's payload, or `null` when the connection was (re)opened and notifications may have been missed. */
export type NotificationHandler = (payload: string | null) => void;

const firstRetryMs = 100;
const maxRetryMs = 5_000;

/**
 * LISTENs on `channel` through connections from `connect`, while it has subscribers.
 *
 * @example
 * const listener = new NotificationListener(connect, 'headroom_jobs', clock);
 * const off = listener.subscribe((payload) => wake(payload));
 */
export class NotificationListener {
  readonly #connect: () => Promise<ListenClient>;
  readonly #channel: string;
  readonly #clock: Clock;
  readonly #handlers = new Set<NotificationHandler>();
  #client: ListenClient | undefined;
  #opening: Promise<void> | undefined;
  #retry: Timer | undefined;
  #retryMs = firstRetryMs;
  #closed = false;

  constructor(connect: () => Promise<ListenClient>, channel: string, clock: Clock) {
    this.#connect = connect;
    this.#channel = channel;
    this.#clock = clock;
  }

  /** True while a connection is listening. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  /** Calls `handler` with each notification's payload; the returned function unsubscribes. */
  subscribe(handler: NotificationHandler): () => void {
    this.#handlers.add(handler);
    if (this.#client === undefined && this.#opening === undefined && this.#retry === undefined) this.#open();
    return () => this.#handlers.delete(handler);
  }

  /** Waits for the connection being opened (tests, start-up), without failing when it cannot be. */
  async ready(): Promise<void> {
    await this.#opening;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#retry?.cancel();
    this.#retry = undefined;
    await this.#opening;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  #open(): void {
    this.#opening = (async () => {
      let client: ListenClient | undefined;
      try {
        client = await this.#connect();
        client.on('notification', (message: { channel?: string; payload?: string }) => {
          if (message.channel === this.#channel) this.#emit(message.payload ?? '');
        });
        const lost = () => this.#lost(client!);
        client.on('error', lost);
        client.on('end', lost);
        await client.query(`LISTEN ${this.#channel}`);
      } catch {
        await client?.end().catch(() => {});
        this.#opening = undefined;
        this.#scheduleRetry();
        return;
      }
      this.#opening = undefined;
      if (this.#closed) {
        await client.end().catch(() => {});
        return;
      }
      this.#client = client;
      this.#retryMs = firstRetryMs;
      this.#emit(null);
    })();
  }

  #lost(client: ListenClient): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.end().catch(() => {});
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#handlers.size === 0) return;
    const wait = this.#retryMs;
    this.#retryMs = Math.min(maxRetryMs, this.#retryMs * 2);
    this.#retry = this.#clock.setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed) this.#open();
    }, wait);
    this.#emit(null); // while it is down, workers poll; tell them to look now
  }

  #emit(payload: string | null): void {
    for (const handler of this.#handlers) handler(payload);
  }
}
