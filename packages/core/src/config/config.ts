// Typed config with hot reload: defaults from the JSON Schema, then the file (YAML or JSON), then the
// environment; validated whole and swapped in one assignment, so a reader sees the old config or the new one,
// never half of each; a bad file is refused and the config in force stays.

import { join } from 'node:path';
import { type Clock, systemClock } from '../clock/index.ts';
import { invalidOption } from '../errors/index.ts';
import { Emitter, type Subscribe } from '../shared/events.ts';
import { checkClock, checkNumber, withDefaults } from '../shared/options.ts';
import { type FileRead, formatOf, isPlainObject, readConfigFile } from './config-file.ts';
import { ConfigLoader } from './config-loader.ts';
import { envOverrides } from './env-overrides.ts';
import { configErrors } from './errors.ts';
import { FileWatch, type ReloadTrigger } from './file-watch.ts';
import { type ConfigProblem, describeProblems } from './problem.ts';

export type { ReloadTrigger } from './file-watch.ts';

/** Options of {@link createConfig}. */
export interface ConfigOptions {
  /**
   * The JSON Schema of the config (a TypeBox `Type.Object(...)` is one). Its `default` keywords are the
   * defaults; an object whose members have defaults needs `default: {}` itself to be filled when absent.
   */
  schema: object;
  /** The directory that holds the file: the one watched (a ConfigMap's mount point, say). */
  dir: string;
  /** The file's name in `dir`: `.yaml`, `.yml` or `.json`. A missing file means defaults and environment. */
  file: string;
  /**
   * Environment variables over the file, by name → dotted path (`{ CASEBOOK_PAGE_CAP: 'tiers.free.pageCap' }`);
   * each value is read as the type the schema gives its path. Read once, when the config is created.
   * @default {}
   */
  env?: Readonly<Record<string, string>>;
  /** Where variables are read. @default process.env */
  envSource?: Readonly<Record<string, string | undefined>>;
  /** Time source of the debounce, the poll and `loadedAt`. @default systemClock() */
  clock?: Clock;
  /** Milliseconds of quiet after a change before the reload (a burst of events is one reload). @default 100 */
  debounce?: number;
  /** Milliseconds between two stat polls of the file; Infinity for none. @default 1000 */
  pollInterval?: number;
  /** Watch the directory with fs.watch; false leaves the poll alone. @default true */
  watch?: boolean;
}

const defaultOptions = {
  env: {},
  debounce: 100,
  pollInterval: 1_000,
  watch: true,
} satisfies Partial<ConfigOptions>;

/** How a reload ended. */
export type ReloadResult = 'applied' | 'unchanged' | 'rejected';

/** What `reload()` returns. */
export interface ReloadOutcome {
  result: ReloadResult;
  /** The version in force afterwards. */
  version: string;
  /** Every problem of a rejected file. */
  errors?: ConfigProblem[];
}

/** A new config took effect. */
export interface ConfigChange<T> {
  next: T;
  prev: T;
  version: string;
  previousVersion: string;
  trigger: ReloadTrigger;
}

/** A file was refused; the config in force stays. */
export interface ConfigRejection {
  /** Every problem, each with its path, message and keyword. */
  errors: ConfigProblem[];
  /** The file's path. */
  file: string;
  /** SHA-256 of the refused bytes (`error:<code>` when they could not be read). */
  checksum: string;
  /** The version still in force. */
  version: string;
  trigger: ReloadTrigger;
}

/** Any reload, whatever its result (after its `onChange` or `onReject`). */
export interface ConfigReload {
  result: ReloadResult;
  trigger: ReloadTrigger;
  version: string;
  checksum: string;
  durationMs: number;
}

/** The watcher failed, or an automatic reload threw; the poll goes on. */
export interface ConfigWatchError {
  operation: 'watch' | 'reload';
  error: unknown;
}

/** Counts and state, for metrics and the admin API. */
export interface ConfigStats {
  /** Reloads by result since the config was created (the first load is not one). */
  reloads: Record<ReloadResult, number>;
  /** The version in force: 12 hex digits of SHA-256 over the config's canonical JSON. */
  version: string;
  /** SHA-256 (hex) of the bytes of the file in force; `none` when there is no file. */
  checksum: string;
  /** When the config in force was applied (ms since the epoch). */
  loadedAt: number;
  /** True while fs.watch runs on the directory. */
  watching: boolean;
}

/** The state the file was in at the last read that was not refused. */
interface Current<T> {
  value: T;
  version: string;
  checksum: string;
  loadedAt: number;
}

/**
 * A config that reloads itself; create it with `await createConfig(options)`.
 *
 * @example
 * const config = await createConfig<Static<typeof schema>>({ schema, dir: '/etc/casebook', file: 'casebook.yaml' });
 * config.get().tiers.free.pageCap;                        // a field read: fine on every request
 * config.onChange(({ next }) => limiter.resize(next.tiers));
 */
export class Config<T> {
  /** The file's full path. */
  readonly file: string;
  readonly #loader: ConfigLoader<T>;
  readonly #clock: Clock;
  readonly #watch: FileWatch;
  // The snapshot readers get, apart from the rest of the state so that `get()` is one field read.
  #value: T;
  #current: Current<T>;
  /** The file's identity at the last read: the poll looks again when it differs. */
  #seen: string;
  /** The bytes last refused: an event or a poll that finds them again reports nothing new. */
  #refused: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #autoQueued = false;
  readonly #counts: Record<ReloadResult, number> = { applied: 0, unchanged: 0, rejected: 0 };
  readonly #events = {
    changed: new Emitter<ConfigChange<T>>(),
    rejected: new Emitter<ConfigRejection>(),
    reloaded: new Emitter<ConfigReload>(),
    failed: new Emitter<ConfigWatchError>(),
  };
  /** Subscribes to new configs taking effect: `{ next, prev }`, both frozen. */
  readonly onChange: Subscribe<ConfigChange<T>> = this.#events.changed.subscribe;
  /** Subscribes to refused files, with every problem. */
  readonly onReject: Subscribe<ConfigRejection> = this.#events.rejected.subscribe;
  /** Subscribes to every reload, whatever its result: what a counter of reloads by result counts. */
  readonly onReload: Subscribe<ConfigReload> = this.#events.reloaded.subscribe;
  /** Subscribes to failures of the watcher or of an automatic reload. */
  readonly onError: Subscribe<ConfigWatchError> = this.#events.failed.subscribe;

  /** @internal Use {@link createConfig}, which reads the file first. */
  constructor(
    loader: ConfigLoader<T>,
    first: { read: FileRead; value: T; version: string },
    o: Required<Pick<ConfigOptions, 'dir' | 'file' | 'clock' | 'debounce' | 'pollInterval' | 'watch'>>,
  ) {
    this.file = join(o.dir, o.file);
    this.#loader = loader;
    this.#clock = o.clock;
    this.#value = first.value;
    this.#current = {
      value: first.value,
      version: first.version,
      checksum: first.read.checksum,
      loadedAt: o.clock.now(),
    };
    this.#seen = first.read.identity;
    this.#watch = new FileWatch({
      dir: o.dir,
      path: this.file,
      clock: o.clock,
      debounce: o.debounce,
      pollInterval: o.pollInterval,
      watch: o.watch,
      seen: () => this.#seen,
      changed: (trigger) => this.#autoReload(trigger),
      failed: (error) => this.#events.failed.emit({ operation: 'watch', error }),
    });
    this.#watch.start();
  }

  /** The config in force, deeply frozen. One field read: call it on every request rather than keep a copy. */
  get(): T {
    return this.#value;
  }

  /** 12 hex digits of SHA-256 over the canonical JSON of the config in force. */
  get version(): string {
    return this.#current.version;
  }

  /** When the config in force was applied (ms since the epoch, on the injected clock). */
  get loadedAt(): number {
    return this.#current.loadedAt;
  }

  /**
   * Reads the file again now (after any reload under way) and applies it if it is new and valid.
   *
   * @example
   * const { result, errors } = await config.reload();   // 'applied' | 'unchanged' | 'rejected'
   */
  reload(): Promise<ReloadOutcome> {
    return this.#enqueue('manual');
  }

  /** Reload counts by result, the version and checksum in force, whether the watcher runs. */
  stats(): ConfigStats {
    const { version, checksum, loadedAt } = this.#current;
    return { reloads: { ...this.#counts }, version, checksum, loadedAt, watching: this.#watch.watching };
  }

  /** Stops the watcher, the poll and any reload not yet due; resolves once a reload under way has ended. */
  async close(): Promise<void> {
    this.#watch.close();
    await this.#queue;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #autoReload(trigger: ReloadTrigger): void {
    // Events during a reload queue one more, not one each: that one reads the file as it is by then.
    if (this.#autoQueued) return;
    this.#autoQueued = true;
    this.#enqueue(trigger).catch((error) => this.#events.failed.emit({ operation: 'reload', error }));
  }

  #enqueue(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const run = this.#queue.then(() => this.#reloadNow(trigger));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #reloadNow(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    if (trigger !== 'manual') this.#autoQueued = false;
    const started = this.#clock.monotonic();
    const read = await readConfigFile(this.file);
    this.#seen = read.identity;
    const current = this.#current;
    if (read.checksum === current.checksum) {
      this.#refused = undefined;
      this.#counts.unchanged++;
      return this.#reloaded('unchanged', trigger, started);
    }
    if (trigger !== 'manual' && read.checksum === this.#refused) {
      // Already refused and reported; a stray event in the directory is not a new reload. Asked by hand, it is.
      return { result: 'rejected', version: current.version };
    }
    const built = this.#loader.build(read);
    if (!built.ok) {
      this.#refused = read.checksum;
      this.#counts.rejected++;
      const { errors } = built;
      this.#events.rejected.emit({
        errors,
        file: this.file,
        checksum: read.checksum,
        version: current.version,
        trigger,
      });
      return { ...this.#reloaded('rejected', trigger, started), errors };
    }
    this.#refused = undefined;
    if (built.version === current.version) {
      // New bytes, same config (a comment, the order of keys): nothing for subscribers.
      this.#current = { ...current, checksum: read.checksum };
      this.#counts.unchanged++;
      return this.#reloaded('unchanged', trigger, started);
    }
    const loadedAt = this.#clock.now();
    this.#current = { value: built.value, version: built.version, checksum: read.checksum, loadedAt };
    // The swap: one assignment, after which every get() returns the new config.
    this.#value = built.value;
    this.#counts.applied++;
    this.#events.changed.emit({
      next: built.value,
      prev: current.value,
      version: built.version,
      previousVersion: current.version,
      trigger,
    });
    return this.#reloaded('applied', trigger, started);
  }

  /** Reports a reload that has been counted and announced. */
  #reloaded(result: ReloadResult, trigger: ReloadTrigger, started: number): ReloadOutcome {
    const { version, checksum } = this.#current;
    if (this.#events.reloaded.active) {
      const durationMs = this.#clock.monotonic() - started;
      this.#events.reloaded.emit({ result, trigger, version, checksum, durationMs });
    }
    return { result, version };
  }
}

/**
 * Reads, checks and starts watching a config. A file that does not parse or breaks the schema throws
 * HR_CONFIG_INVALID listing every problem (`context.errors`): a service does not start on a bad config. Later,
 * a bad file is only refused (`onReject`), and the config in force stays.
 *
 * @example
 * const free = Type.Object({ pageCap: Type.Integer({ minimum: 1, default: 25 }) }, { default: {} });
 * const schema = Type.Object({ tiers: Type.Object({ free }, { default: {} }) });
 * const config = await createConfig<Static<typeof schema>>({
 *   schema,
 *   dir: process.env.CONFIG_DIR ?? '/etc/casebook',
 *   file: 'casebook.yaml',
 *   env: { CASEBOOK_PAGE_CAP: 'tiers.free.pageCap' },
 * });
 */
export async function createConfig<T>(options: ConfigOptions): Promise<Config<T>> {
  const o = withDefaults(defaultOptions, options ?? {});
  if (!isPlainObject(o.schema)) throw invalidOption('config', 'schema', 'a JSON Schema object', o.schema);
  if (typeof o.dir !== 'string' || o.dir === '')
    throw invalidOption('config', 'dir', 'a directory path', o.dir);
  const format = typeof o.file === 'string' && !/[/\\]/.test(o.file) ? formatOf(o.file) : undefined;
  if (format === undefined) {
    throw invalidOption(
      'config',
      'file',
      'a file name ending in .yaml, .yml or .json (no directory)',
      o.file,
    );
  }
  const clock = checkClock('config', o.clock ?? systemClock());
  const debounce = checkNumber('config', 'debounce', o.debounce);
  const pollInterval = checkNumber('config', 'pollInterval', o.pollInterval, { above: true, infinite: true });
  if (typeof o.watch !== 'boolean') throw invalidOption('config', 'watch', 'true or false', o.watch);
  const envSource = o.envSource ?? process.env;
  if (!isPlainObject(envSource))
    throw invalidOption('config', 'envSource', 'an object of variables', envSource);
  const path = join(o.dir, o.file);
  const loader = new ConfigLoader<T>(o.schema, format, path, envOverrides(o.schema, o.env, envSource));
  const read = await readConfigFile(path);
  const built = loader.build(read);
  if (!built.ok) {
    throw configErrors.create(
      'HR_CONFIG_INVALID',
      `${path} is not a valid config:\n${describeProblems(built.errors)}`,
      { context: { file: path, errors: built.errors } },
    );
  }
  return new Config<T>(
    loader,
    { read, value: built.value, version: built.version },
    {
      dir: o.dir,
      file: o.file,
      clock,
      debounce,
      pollInterval,
      watch: o.watch,
    },
  );
}
