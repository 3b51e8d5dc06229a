/**
 * The state store's bounded in-heap cache of the hot set (PROCESSOR_STATE_CACHE_ENTRIES): recently
 * written and read entries, evicted least recently used first. It only saves disk reads: the
 * store stays correct with any size, including zero, because every write goes through it.
 */
export class HotCache<V> {
  // A Map keeps insertion order; an entry is moved to the end when used, so the front is the coldest.
  private readonly map = new Map<string, V>();

  constructor(readonly capacity: number) {}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, value: V): void {
    if (this.capacity <= 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) {
      const coldest = this.map.keys().next();
      if (!coldest.done) this.map.delete(coldest.value);
    }
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
