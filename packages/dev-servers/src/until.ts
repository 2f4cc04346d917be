// Waiting on a real process (a server restarting, a subscription coming back): poll a condition until it
// holds, never sleep a fixed time and hope.

/** Options of {@link until}. */
export interface UntilOptions {
  /** Give up after this many ms. @default 5000 */
  timeout?: number;
  /** Check this often, in ms. @default 10 */
  interval?: number;
  /** Named in the error when the wait gives up. @default 'the condition' */
  what?: string;
}

/**
 * Resolves once `condition` returns true (it may be async); rejects naming `what` after `timeout` ms. For
 * waits on real processes and real time only: code on an injected clock is driven with `FakeClock.tick`.
 *
 * @example
 * await redis.restart();
 * await until(() => bus.healthy, { timeout: 5_000, what: 'the bus to resubscribe' });
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  options: UntilOptions = {},
): Promise<void> {
  const { timeout = 5_000, interval = 10, what = 'the condition' } = options;
  const deadline = performance.now() + timeout;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
