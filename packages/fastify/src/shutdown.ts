// Graceful shutdown: on SIGTERM or SIGINT, readiness answers 503 at once while the server keeps serving for
// `delay` (a load balancer or Kubernetes takes the instance out meanwhile), answers close their connections so
// clients move elsewhere; then the listener closes and running handlers drain (the plugin's `drainTimeout`); then
// the app's `onClose` hooks (job workers) and the given steps (pools, Redis, telemetry) run in order; then exit 0.
// A second signal, or the overall deadline, exits 1 at once, whatever still hangs.

import type { Clock, Timer } from '@headroom/core/clock';
import { invalidOption } from '@headroom/core/errors';
import type { FastifyInstance } from 'fastify';

/** One thing to close after the server, in order (a pool, a Redis client, an embedded database). */
export interface ShutdownStep {
  name: string;
  run: () => unknown;
}

/** Options of `app.headroom.shutdown`. */
export interface ShutdownOptions {
  /** Signals that start a shutdown. @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[];
  /**
   * Milliseconds between readiness turning 503 and the listener closing, serving as usual meanwhile (each answer
   * closes its connection). Kubernetes removes a pod's endpoints concurrently with SIGTERM: 5 s covers it.
   * @default 5_000
   */
  delay?: number;
  /** Milliseconds from the first signal after which the process exits 1 whatever hangs. @default delay + drainTimeout + 15_000 */
  deadline?: number;
  /** Closed in order after the server and its `onClose` hooks; a step that throws is logged and the next runs. */
  steps?: readonly ShutdownStep[];
  /** Ends the process. @default process.exit */
  exit?: (code: number) => void;
  /** Where signals come from (tests pass an emitter). @default process */
  signalSource?: {
    on(signal: NodeJS.Signals, listener: () => void): unknown;
    off(signal: NodeJS.Signals, listener: () => void): unknown;
  };
}

/** Where a shutdown is. */
export type ShutdownState = 'serving' | 'draining' | 'closing' | 'stopped';

/** What `app.headroom.shutdown(options)` returns. */
export interface Shutdown {
  readonly state: ShutdownState;
  /** Starts the shutdown as a signal would (`reason` is logged); a second call exits 1 at once. */
  begin(reason: string): Promise<void>;
  /** Removes the signal handlers (the process then ends on a signal as Node's default does). */
  dispose(): void;
}

/** The plugin's side of a shutdown: readiness reads `stopping`, answers read `closeConnections`. */
export interface Lifecycle {
  state: ShutdownState;
}

/**
 * Installs the signal handlers of a graceful shutdown of `app`.
 *
 * @example
 * app.headroom.shutdown({ delay: 5_000, steps: [{ name: 'pool', run: () => pool.end() }] });
 */
export function installShutdown(
  app: FastifyInstance,
  lifecycle: Lifecycle,
  clock: Clock,
  drainTimeout: number,
  options: ShutdownOptions = {},
): Shutdown {
  const delay = options.delay ?? 5_000;
  if (!(Number.isFinite(delay) && delay >= 0)) {
    throw invalidOption('app.headroom.shutdown', 'delay', 'a number of ms >= 0', options.delay);
  }
  const deadline = options.deadline ?? delay + drainTimeout + 15_000;
  if (!(Number.isFinite(deadline) && deadline > 0)) {
    throw invalidOption('app.headroom.shutdown', 'deadline', 'a number of ms > 0', options.deadline);
  }
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const source = options.signalSource ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let started: Promise<void> | undefined;
  let deadlineTimer: Timer | undefined;
  let exited = false;
  const end = (code: number) => {
    if (exited) return;
    exited = true;
    deadlineTimer?.cancel();
    exit(code);
  };

  const run = async (reason: string): Promise<void> => {
    lifecycle.state = 'draining';
    app.log.warn({ reason, delay, drainTimeout, deadline }, 'shutting down: readiness answers 503');
    deadlineTimer = clock.setTimeout(() => {
      app.log.error({ reason, deadline }, 'shutdown passed its deadline: exiting now');
      end(1);
    }, deadline);
    if (delay > 0) await new Promise<void>((resolve) => clock.setTimeout(resolve, delay));
    lifecycle.state = 'closing';
    try {
      await app.close();
    } catch (error) {
      app.log.error({ err: error }, 'shutdown: closing the server failed');
    }
    for (const step of options.steps ?? []) {
      try {
        await step.run();
      } catch (error) {
        app.log.error({ err: error, step: step.name }, 'shutdown: a step failed');
      }
    }
    lifecycle.state = 'stopped';
    app.log.warn({ reason }, 'stopped');
    end(0);
  };

  const begin = (reason: string): Promise<void> => {
    if (started) {
      app.log.error({ reason }, 'a second signal during shutdown: exiting now');
      end(1);
      return started;
    }
    started = run(reason);
    return started;
  };
  const handlers = signals.map((signal) => {
    const handler = () => void begin(signal);
    source.on(signal, handler);
    return { signal, handler };
  });
  return {
    get state() {
      return lifecycle.state;
    },
    begin,
    dispose() {
      for (const { signal, handler } of handlers) source.off(signal, handler);
    },
  };
}
