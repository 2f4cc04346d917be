// Notices that the config file may have changed and says "look again", debounced; whether anything did change
// is for the reader to tell from the bytes. Two sources: fs.watch on the DIRECTORY (an editor's rename-save
// and Kubernetes' ConfigMap update, which swaps the `..data` symlink, change the directory and never the file
// a watch on the file would follow), and a stat poll on the injected clock, for a file mounted alone (no event
// ever comes) and for a watcher that went silent (its directory was replaced under it).

import { type FSWatcher, watch } from 'node:fs';
import type { Clock, Timer } from '../clock/index.ts';
import { fileIdentity } from './config-file.ts';

/** What made a reload happen. */
export type ReloadTrigger = 'watch' | 'poll' | 'manual';

/** Options of {@link FileWatch}. */
export interface FileWatchOptions {
  dir: string;
  /** The file's full path: the one the poll stats. */
  path: string;
  clock: Clock;
  /** Quiet time after the last event before the reload; a burst never delays it past 10 × this. */
  debounce: number;
  /** Milliseconds between two polls; Infinity for none. */
  pollInterval: number;
  /** Use fs.watch; false leaves the poll alone. */
  watch: boolean;
  /** The identity of the file as last read, which the poll compares with the file's. */
  seen(): string;
  /** Called once a burst of events has settled. */
  changed(trigger: 'watch' | 'poll'): void;
  /**
   * A watcher that failed, or could not start for another reason than a missing directory; reported once
   * until a watcher runs again.
   */
  failed(error: unknown): void;
}

/** The watcher and the poll of one file; `close()` stops both and any reload not yet due. */
export class FileWatch {
  readonly #o: FileWatchOptions;
  #watcher: FSWatcher | undefined;
  #watchReported = false;
  #pollTimer: Timer | undefined;
  #debounceTimer: Timer | undefined;
  #burst: { startedAt: number; trigger: 'watch' | 'poll' } | undefined;
  #closed = false;

  constructor(options: FileWatchOptions) {
    this.#o = options;
  }

  /** True while fs.watch is running on the directory. */
  get watching(): boolean {
    return this.#watcher !== undefined;
  }

  start(): void {
    if (this.#o.watch) this.#startWatch();
    this.#schedulePoll();
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#pollTimer?.cancel();
    this.#debounceTimer?.cancel();
  }

  #startWatch(): void {
    try {
      // Not persistent: like the clock's unref'd timers, watching a file never keeps a process alive.
      const watcher = watch(this.#o.dir, { persistent: false }, () => this.#event('watch'));
      watcher.on('error', (error) => {
        watcher.close();
        if (this.#watcher === watcher) this.#watcher = undefined;
        this.#report(error);
      });
      this.#watcher = watcher;
      this.#watchReported = false;
    } catch (error) {
      // No directory yet is no file yet, a state like any other (stats show `watching: false`); the poll
      // tries again.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') this.#report(error);
    }
  }

  #report(error: unknown): void {
    if (this.#closed || this.#watchReported) return;
    this.#watchReported = true;
    this.#o.failed(error);
  }

  #schedulePoll(): void {
    if (this.#closed || !Number.isFinite(this.#o.pollInterval)) return;
    this.#pollTimer = this.#o.clock.setTimeout(() => void this.#poll(), this.#o.pollInterval);
  }

  async #poll(): Promise<void> {
    this.#pollTimer = undefined;
    // A watcher that failed (its directory did not exist yet, say) is tried again at each poll.
    if (this.#o.watch && this.#watcher === undefined) this.#startWatch();
    const identity = await fileIdentity(this.#o.path);
    if (this.#closed) return;
    if (identity !== this.#o.seen()) this.#event('poll');
    this.#schedulePoll();
  }

  #event(trigger: 'watch' | 'poll'): void {
    if (this.#closed) return;
    const { clock, debounce } = this.#o;
    const now = clock.monotonic();
    this.#burst ??= { startedAt: now, trigger };
    this.#debounceTimer?.cancel();
    const wait = Math.max(0, Math.min(debounce, this.#burst.startedAt + 10 * debounce - now));
    this.#debounceTimer = clock.setTimeout(() => {
      const burst = this.#burst!;
      this.#burst = undefined;
      this.#debounceTimer = undefined;
      this.#o.changed(burst.trigger);
    }, wait);
  }
}
