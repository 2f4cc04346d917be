// Group commit: writes that arrive while one is on its way to the database go together in the next statement,
// so a busy database gets fewer, larger statements (and an idle one sees each write a turn of the event loop
// later). PostgreSQL's own commit_delay does the same for WAL flushes; this does it for round trips.

/** Options of `WriteBatcher`. */
export interface WriteBatcherOptions {
  /** Statements in flight at once; the items added meanwhile wait for a free one. @default 1 */
  concurrency?: number;
  /** Items at most per statement. @default 500 */
  maxBatch?: number;
}

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Collects items and writes them with `flush`, one call for all those added in the same turn of the event loop,
 * or while the calls in flight were running. `flush` answers one result per item, in order; a throw rejects
 * every item of its batch.
 *
 * @example
 * const done = new WriteBatcher((ids: string[]) => markDone(ids).then(() => ids.map(() => undefined)));
 * await done.add(id);
 */
export class WriteBatcher<T, R = void> {
  readonly #flush: (items: T[]) => Promise<R[]>;
  readonly #concurrency: number;
  readonly #maxBatch: number;
  #queued: Pending<T, R>[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(flush: (items: T[]) => Promise<R[]>, options: WriteBatcherOptions = {}) {
    this.#flush = flush;
    this.#concurrency = options.concurrency ?? 1;
    this.#maxBatch = options.maxBatch ?? 500;
  }

  /** Items waiting for a statement, and statements in flight. */
  get pending(): { queued: number; inFlight: number } {
    return { queued: this.#queued.length, inFlight: this.#inFlight };
  }

  /** Adds an item to the next statement; resolves with its result once that statement answered. */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queued.push({ item, resolve, reject });
      if (!this.#scheduled && this.#inFlight < this.#concurrency) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          this.#next();
        });
      }
    });
  }

  #next(): void {
    while (this.#queued.length > 0 && this.#inFlight < this.#concurrency) {
      const batch = this.#queued.splice(0, this.#maxBatch);
      this.#inFlight++;
      let written: Promise<R[]>;
      try {
        written = this.#flush(batch.map((p) => p.item));
      } catch (error) {
        written = Promise.reject(error);
      }
      written
        .then(
          (results) => {
            for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i] as R);
          },
          (error) => {
            for (const p of batch) p.reject(error);
          },
        )
        .finally(() => {
          this.#inFlight--;
          this.#next(); // what arrived meanwhile, at once: it has waited a statement already
        });
    }
  }
}
