// Request loggers made on first use. Fastify gives every request a child logger to bind its request id, and
// pino serializes the bindings when the child is made (a visible share of a cache-hit request's CPU in a
// profile). Most requests write nothing at the configured level, so the child is made by the first call that
// would write.

import type { FastifyBaseLogger } from 'fastify';

type Bindings = Parameters<FastifyBaseLogger['child']>[0];
type ChildLoggerOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>;

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogArgs = Parameters<FastifyBaseLogger['info']>;

/** The parent logger's level test, as pino has it. */
interface LevelAware {
  isLevelEnabled(level: string): boolean;
}

class LazyRequestLogger {
  readonly #parent: FastifyBaseLogger & LevelAware;
  readonly #bindings: Bindings;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger & LevelAware, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  get level(): string {
    return (this.#child ?? this.#parent).level;
  }

  set level(level: string) {
    this.#made().level = level;
  }

  fatal(...args: LogArgs): void {
    this.#write('fatal', args);
  }
  error(...args: LogArgs): void {
    this.#write('error', args);
  }
  warn(...args: LogArgs): void {
    this.#write('warn', args);
  }
  info(...args: LogArgs): void {
    this.#write('info', args);
  }
  debug(...args: LogArgs): void {
    this.#write('debug', args);
  }
  trace(...args: LogArgs): void {
    this.#write('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#made().child(bindings, options);
  }

  #write(level: Level, args: LogArgs): void {
    // Once made, the child decides (its level may have been changed); before, the parent's level does.
    if (this.#child === undefined && !this.#parent.isLevelEnabled(level)) return;
    (this.#made()[level] as (...a: LogArgs) => void)(...args);
  }

  #made(): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings);
    return this.#child;
  }
}

/**
 * A `childLoggerFactory` for Fastify that makes each request's child logger on first use. Falls back to an
 * ordinary child when the route sets its own level or serializers, or when the logger cannot tell its level.
 *
 * @example
 * const app = Fastify({ loggerInstance: pino(), childLoggerFactory: lazyChildLogger });
 */
export function lazyChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  const parent = logger as FastifyBaseLogger & Partial<LevelAware>;
  if (
    options.level !== undefined ||
    options.serializers !== undefined ||
    typeof parent.isLevelEnabled !== 'function'
  ) {
    return logger.child(bindings, options);
  }
  return new LazyRequestLogger(
    parent as FastifyBaseLogger & LevelAware,
    bindings,
  ) as unknown as FastifyBaseLogger;
}
