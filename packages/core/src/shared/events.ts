// A tiny typed event emitter for policies: listeners get typed events and a Disposable to unsubscribe.

/** A subscription handle: `dispose()` unsubscribes; it also works with `using`. */
export interface Disposable {
  dispose(): void;
  [Symbol.dispose](): void;
}

/** A function that subscribes a listener to one kind of event. */
export type Subscribe<E> = (listener: (event: E) => void) => Disposable;

class Subscription<E> implements Disposable {
  readonly #emitter: Emitter<E>;
  readonly #listener: (event: E) => void;
  #disposed = false;

  constructor(emitter: Emitter<E>, listener: (event: E) => void) {
    this.#emitter = emitter;
    this.#listener = listener;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#emitter.remove(this.#listener);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Holds the listeners of one event type. Policies check `active` before building an event, so an event
 * nobody listens to costs nothing on the hot path. A throwing listener never corrupts the policy's state:
 * its error is rethrown in a microtask, where it surfaces as an uncaught exception like any other bug.
 *
 * @example
 * const retried = new Emitter<{ attempt: number }>();
 * const sub = retried.subscribe((e) => console.log('retry', e.attempt));
 * if (retried.active) retried.emit({ attempt: 1 });
 * sub.dispose();
 */
export class Emitter<E> {
  #listeners: ((event: E) => void)[] = [];

  /** Subscribes `listener`, bound so it can be handed out as a method (`onRetry = emitter.subscribe`). */
  readonly subscribe: Subscribe<E> = (listener) => {
    // Copy on write: an emit in progress keeps iterating the array it started with.
    this.#listeners = [...this.#listeners, listener];
    return new Subscription(this, listener);
  };

  /** True when at least one listener is subscribed. */
  get active(): boolean {
    return this.#listeners.length > 0;
  }

  /** Calls every listener with `event`, in subscription order. */
  emit(event: E): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Unsubscribes one registration of `listener`; unknown listeners are ignored. */
  remove(listener: (event: E) => void): void {
    const index = this.#listeners.indexOf(listener);
    if (index >= 0) this.#listeners = this.#listeners.toSpliced(index, 1);
  }
}
