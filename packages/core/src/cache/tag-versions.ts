// Tag versions kept in memory, bounded: what a memory store owns, and what each cache instance knows of the L2's.

/**
 * Versions come from one increasing sequence, so a tag forgotten to respect `maxTags` can still be judged: its
 * version is at most the `floor` (the highest version ever forgotten). An entry recorded at or above the floor is
 * still current; below it, the entry is treated as invalid (a spurious miss, never a stale read).
 *
 * @example
 * const versions = new TagVersions(100_000);
 * const v = versions.bump('t:acme:case%3A1');
 * versions.isCurrent(['t:acme:case%3A1'], [v]); // true
 */
export class TagVersions {
  readonly #max: number;
  readonly #versions = new Map<string, number>();
  #floor = 0;
  #sequence = 0;

  constructor(maxTags: number) {
    this.#max = maxTags;
  }

  get size(): number {
    return this.#versions.size;
  }

  /** Version of `tag`; an unknown tag answers the floor (0 until a version was forgotten). */
  get(tag: string): number {
    return this.#versions.get(tag) ?? this.#floor;
  }

  /** Moves `tag` to a new version of this map's own sequence and returns it. */
  bump(tag: string): number {
    const version = ++this.#sequence;
    this.#put(tag, version);
    return version;
  }

  /** Refuses every entry recorded under `tag` until a newer version is observed (an invalidation in flight). */
  suspend(tag: string): void {
    this.#versions.delete(tag);
    this.#versions.set(tag, -1);
  }

  /** Learns versions seen elsewhere (an L2, a bus message); a version only ever moves up. */
  observe(tags: readonly string[], versions: readonly number[]): void {
    for (let i = 0; i < tags.length; i++) {
      const tag = tags[i]!;
      const version = versions[i] ?? 0;
      const known = this.#versions.get(tag);
      if (known === undefined ? version > this.#floor : version > known) this.#put(tag, version);
    }
  }

  /** True when no tag moved past the version recorded for it. */
  isCurrent(tags: readonly string[], recorded: readonly number[]): boolean {
    for (let i = 0; i < tags.length; i++) {
      const known = this.#versions.get(tags[i]!);
      const at = recorded[i] ?? 0;
      if (known === undefined ? at < this.#floor : known !== at) return false;
    }
    return true;
  }

  clear(): void {
    this.#versions.clear();
    this.#floor = 0;
  }

  #put(tag: string, version: number): void {
    this.#versions.delete(tag);
    this.#versions.set(tag, version);
    if (version > this.#sequence) this.#sequence = version;
    if (this.#versions.size > this.#max) {
      const [oldest, at] = this.#versions.entries().next().value!;
      this.#versions.delete(oldest);
      if (at > this.#floor) this.#floor = at;
    }
  }
}
