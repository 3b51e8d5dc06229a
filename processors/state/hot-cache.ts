/**
 * The state store's bounded in-heap cache of the hot set (PROCESSOR_STATE_CACHE_ENTRIES): recently
 * written and read entries. It only saves disk reads: the store stays correct with any size, including
 * zero, because every write goes through it.
 *
 * Two generations instead of a least-recently-used list: entries go into the young Map; when it holds
 * half the capacity, it becomes the old one and the previous old one is dropped whole. A hit in the old
 * generation moves the entry to the young one, so what is used stays. Why not an LRU over one Map
 * (delete and re-insert on use, evict its first key): V8's Map leaves a hole for every delete until it
 * rehashes, and finding the first live key walks over them; in the store's profile that eviction was a
 * quarter of its CPU (docs/benchmarks.md, "State at scale"). Here nothing is deleted one by one.
 */
export class HotCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly generation: number;

  constructor(readonly capacity: number) {
    this.generation = Math.max(1, Math.floor(capacity / 2));
  }

  get(key: string): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const aged = this.old.get(key);
    if (aged !== undefined) this.set(key, aged);
    return aged;
  }

  set(key: string, value: V): void {
    if (this.capacity <= 0) return;
    if (this.young.size >= this.generation && !this.young.has(key)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
  }

  /** Entries held (a key in both generations counts twice): at most the capacity, or 2 when it is 1. */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
