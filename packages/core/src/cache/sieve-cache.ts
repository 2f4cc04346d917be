// A bounded in-process map evicting with SIEVE (an LRU approximation): a hit only sets a bit, so reads stay cheap
// under contention, and eviction skips recently read entries the way LRU would. Bounded by entries and by bytes.

/** An entry of a SieveCache; subclasses add their payload, so a lookup returns the entry itself. */
export class SieveNode {
  key = '';
  /** Bytes charged against `maxBytes`. */
  size = 0;
  visited = false;
  prev: SieveNode | undefined;
  next: SieveNode | undefined;
}

/** Bounds of a SieveCache. */
export interface SieveBounds {
  maxEntries: number;
  maxBytes: number;
}

/**
 * Entries are pushed at the head; the hand walks from the tail towards the head, clearing `visited` bits and evicting
 * the first entry that was not read since the hand last passed it (SIEVE, NSDI '24).
 *
 * @example
 * const lru = new SieveCache<Entry>({ maxEntries: 10_000, maxBytes: 64 << 20 });
 * lru.set('k', entry); // entry.size set by the caller
 * lru.get('k');        // marks it visited
 */
export class SieveCache<N extends SieveNode> {
  readonly #map = new Map<string, N>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #head: SieveNode | undefined;
  #tail: SieveNode | undefined;
  #hand: SieveNode | undefined;
  #bytes = 0;
  /** Entries evicted to respect the bounds (not deletions). */
  evictions = 0;

  constructor(bounds: SieveBounds) {
    this.#maxEntries = bounds.maxEntries;
    this.#maxBytes = bounds.maxBytes;
  }

  get size(): number {
    return this.#map.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The entry, marked as recently used. */
  get(key: string): N | undefined {
    const node = this.#map.get(key);
    if (node !== undefined) node.visited = true;
    return node;
  }

  /** The entry, without marking it. */
  peek(key: string): N | undefined {
    return this.#map.get(key);
  }

  /** Stores `node` under `node.key`, replacing any entry there; false (and nothing stored) when it alone is too big. */
  set(node: N): boolean {
    this.delete(node.key);
    if (node.size > this.#maxBytes) return false;
    while (this.#map.size >= this.#maxEntries || this.#bytes + node.size > this.#maxBytes) {
      if (!this.#evictOne()) break;
    }
    node.visited = false;
    node.prev = undefined;
    node.next = this.#head;
    if (this.#head) this.#head.prev = node;
    this.#head = node;
    this.#tail ??= node;
    this.#map.set(node.key, node);
    this.#bytes += node.size;
    return true;
  }

  delete(key: string): N | undefined {
    const node = this.#map.get(key);
    if (node === undefined) return undefined;
    this.#map.delete(key);
    this.#unlink(node);
    return node;
  }

  clear(): void {
    this.#map.clear();
    this.#head = this.#tail = this.#hand = undefined;
    this.#bytes = 0;
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  #evictOne(): boolean {
    let node = this.#hand ?? this.#tail;
    while (node?.visited) {
      node.visited = false;
      node = node.prev ?? this.#tail;
    }
    if (node === undefined) return false;
    this.#hand = node.prev;
    this.#map.delete(node.key);
    this.#unlink(node);
    this.evictions++;
    return true;
  }

  #unlink(node: SieveNode): void {
    if (this.#hand === node) this.#hand = node.prev;
    if (node.prev) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#tail = node.prev;
    node.prev = node.next = undefined;
    this.#bytes -= node.size;
  }
}
