/**
 * Membership filters in front of the on-disk store's reads: per time segment (store.ts), a Bloom filter of
 * the keys written into it, so a lookup reads a key only in the segments that may hold it.
 *
 * Why: a lookup reads its key in every segment still on disk, newest first, and a store that has run for a
 * whole DEDUPE_WINDOW holds SEGMENTS_PER_WINDOW + 1 segments of each kind: up to ten disk reads for one new
 * `message.created`, most of them for keys that are nowhere (new ids, new objects). Each read costs the
 * main thread an operation object, a promise and a native call into rocksdb-native, and the collector
 * their garbage. Measured (bench:ab, one segment, 2026-12-08): 6.7 µs per record less with the filters,
 * median of 6 paired reps, lower in 5. Older segments on disk were earlier found to cost about what an
 * empty one does (docs/benchmarks.md, "Older segments on disk"), so the saving at five segments is not
 * known to be larger. RocksDB's own filters spare
 * the disk, not those per-read costs. A filter answers "never written here" from memory, exactly (a Bloom
 * filter has no false negatives), and "maybe" otherwise; a "maybe" is read as before. The same filters
 * spare a restore's and an apply's reads of keys they do not know.
 *
 * A filter is complete only for a segment this store created: one found on disk when the store opened
 * (a restart) has none, and is read for every key, as before, until it expires (at most a window and a
 * segment later). Nothing here is persisted; nothing needs to be.
 *
 * Memory: 10 bits per entry (about 1 % false positives per stage), in stages that grow fourfold (the
 * segment's entry count is not known when it opens), from one process-wide budget
 * (PROCESSOR_STATE_FILTER_BYTES). When the budget cannot give a filter its next stage, that filter is
 * given up (its memory returned; its segment is read for every key, as before), so memory stays bounded
 * whatever the traffic and the window. A dropped segment returns its filter's memory.
 */

/** PROCESSOR_STATE_FILTER_BYTES's default: 32 MiB, filters for about 20 million entries when full (computed from 10 bits per
 * entry and the stages' power-of-two sizes, not measured). */
export const DEFAULT_FILTER_BYTES = 32 * 1024 * 1024;

/** Bits per entry a stage is sized for: about 1 % false positives when it is full. */
export const FILTER_BITS_PER_ENTRY = 10;
/** Bit positions per key: ln 2 × bits per entry, the optimum for 10. */
const HASHES = 7;
/** The first stage's bits (8 KiB, 6,553 entries): a quiet segment costs little. */
const FIRST_STAGE_BITS = 2 ** 16;
/** Each stage has this many times the bits of the one before. */
const GROWTH = 4;

/** The process-wide memory budget of all filters (PROCESSOR_STATE_FILTER_BYTES). */
export class FilterBudget {
  private used = 0;

  constructor(readonly maxBytes: number) {}

  /** Takes `bytes` if they fit. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.maxBytes) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }

  get usedBytes(): number {
    return this.used;
  }
}

interface Stage {
  bits: Uint32Array;
  /** Bit count − 1 (the count is a power of two). */
  mask: number;
  /** Entries it is sized for; the next key goes into a new stage. */
  capacity: number;
  entries: number;
}

/** Four bytes of the key (a store key: 16 latin1 characters of SHA-256, keys.ts) as an unsigned integer. */
function word(key: string, at: number): number {
  return (
    (key.charCodeAt(at) |
      (key.charCodeAt(at + 1) << 8) |
      (key.charCodeAt(at + 2) << 16) |
      (key.charCodeAt(at + 3) << 24)) >>>
    0
  );
}

/** The key's first bit position in stage `s` before masking: h1, moved per stage. */
const start = (key: string, s: number) => (word(key, 0) + Math.imul(s, word(key, 8))) >>> 0;
/** The step between the key's positions: h2, odd so that it walks a power-of-two table. */
const step = (key: string) => word(key, 4) | 1;
/** Position `i` of a key in a stage of `mask` + 1 bits. */
const bitOf = (h1: number, h2: number, i: number, mask: number) => ((h1 + Math.imul(i, h2)) >>> 0) & mask;

/** Every one of the key's positions is set in the stage. */
function holds(stage: Stage, h1: number, h2: number): boolean {
  for (let i = 0; i < HASHES; i++) {
    const bit = bitOf(h1, h2, i, stage.mask);
    if (((stage.bits[bit >>> 5] as number) & (1 << (bit & 31))) === 0) return false;
  }
  return true;
}

/**
 * A scalable Bloom filter over one segment's keys. Keys are already uniform (SHA-256), so their own bytes
 * are the hashes: positions h1 + i·h2 (double hashing), with h1 moved per stage so that stages of
 * different sizes do not fail on the same keys.
 */
export class SegmentFilter {
  private stages: Stage[] = [];
  /** Given up (the budget was spent): every key may be in the segment. */
  private abandoned = false;

  constructor(private readonly budget: FilterBudget) {}

  /** Records that the segment holds `key` (idempotent, but counted again towards the stage's capacity). */
  add(key: string): void {
    if (this.abandoned) return;
    let stage = this.stages[this.stages.length - 1];
    if (stage === undefined || stage.entries >= stage.capacity) {
      stage = this.grow(stage);
      if (stage === undefined) return;
    }
    const h1 = start(key, this.stages.length - 1);
    const h2 = step(key);
    for (let i = 0; i < HASHES; i++) {
      const bit = bitOf(h1, h2, i, stage.mask);
      stage.bits[bit >>> 5] = ((stage.bits[bit >>> 5] as number) | (1 << (bit & 31))) >>> 0;
    }
    stage.entries++;
  }

  /** False: the key was never added, so the segment does not hold it. True: it may. */
  mayHold(key: string): boolean {
    if (this.abandoned) return true;
    const h2 = step(key);
    // A loop, not stages.some(): this runs per key and segment in every prefetch, and a closure per call
    // is garbage on the path the filters exist to lighten.
    for (let s = 0; s < this.stages.length; s++) {
      if (holds(this.stages[s] as Stage, start(key, s), h2)) return true;
    }
    return false;
  }

  /** Memory it holds. */
  get bytes(): number {
    let n = 0;
    for (const s of this.stages) n += s.bits.byteLength;
    return n;
  }

  /** Gives its memory back; from then on every key may be in the segment. */
  release(): void {
    this.budget.give(this.bytes);
    this.stages = [];
    this.abandoned = true;
  }

  /** Whether it was given up (tests, diagnostics). */
  get given(): boolean {
    return this.abandoned;
  }

  private grow(last: Stage | undefined): Stage | undefined {
    const bitCount = last === undefined ? FIRST_STAGE_BITS : (last.mask + 1) * GROWTH;
    const bytes = bitCount / 8;
    if (!this.budget.take(bytes)) {
      this.release();
      return undefined;
    }
    const stage: Stage = {
      bits: new Uint32Array(bitCount / 32),
      mask: bitCount - 1,
      capacity: Math.floor(bitCount / FILTER_BITS_PER_ENTRY),
      entries: 0,
    };
    this.stages.push(stage);
    return stage;
  }
}
