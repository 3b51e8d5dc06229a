/**
 * The per-partition state store: what the processor must remember about one input partition to stay
 * exactly-once across restarts and takeovers (docs/architecture.md, "Exactly-once effect"):
 *
 * - dedupe ids: notification ids handled within DEDUPE_WINDOW;
 * - versions: per object, the last emitted version, or a tombstone (deleted) with its version;
 * - progress: when a slow grant was set aside, which offsets past the committed one are already handled;
 * - the changelog buckets (processors/state/changelog.ts) and when each expires, so it can be tombstoned
 *   in Kafka once everything in it has expired;
 * - the checkpoint: the changelog offset the store reflects (restore.ts reads only the tail past it).
 *
 * It lives on local disk, in the processor's RocksDB database (engine.ts), under a key range of its own
 * (the partition number first), so the heap holds only a bounded cache of the hot set, whatever the
 * traffic and the window. Disk reads are asynchronous, so a round reads everything it will look up in one
 * batch first (prefetch, called by the pipeline after decode); the stages' lookups then stay synchronous
 * and answer from memory. docs/decisions/0005-state-on-local-disk.md has the measurements behind the engine.
 *
 * Keys are fixed-size: the first 128 bits of SHA-256 of the id (keys.ts, stateKeyHash). Entries live in
 * time segments by expiry: a segment covers DEDUPE_WINDOW / SEGMENTS_PER_WINDOW of expiry times, and
 * once its end has passed every entry in it has expired, so it is dropped whole with one range delete (no
 * scan, no per-entry delete). A lookup reads the key in each segment on disk; the newest hit is the latest
 * write because a write never goes into a segment older than the newest one (see segmentFor).
 *
 *   key                                            value
 *   [partition u32][0]                             meta (JSON: segments, progress, checkpoint, counts)
 *   [partition u32][1][segment u32][hash 16 B]     dedupe: expiresAt (f64) · version: encodeVersion
 *   [partition u32][2][expiresAt f64][bucket id]   (empty): buckets in expiry order
 *   [partition u32][3][bucket id]                  expiresAt (f64)
 *
 * The changelog topic stays the source of truth: the store changes only when apply() is given changes
 * whose transaction committed, and each apply writes the changes and the new checkpoint in one atomic
 * write batch. A crash before that write leaves the old checkpoint, and the next restore re-applies the
 * tail from there (re-applying changes in log order is idempotent).
 */
import { objectKeyString } from '../object-identity';
import type { VersionEntry } from '../stages/order';
import type { ObjectKey } from '../types';
import type { StateEngine } from './engine';
import { HotCache } from './hot-cache';
import { stateId, stateKeyHash } from './keys';
import { DEFAULT_FILTER_BYTES, FilterBudget, SegmentFilter } from './segment-filter';

/** "Every offset in [next, through) except `unprocessed` is handled": written when grants are set aside
 * (the committed offset cannot pass them, later records of other grants are already done). */
export interface Progress {
  next: string;
  through: string;
  unprocessed: string[];
}

export type StateChange =
  | { kind: 'dedupe'; id: string; expiresAt: number }
  | { kind: 'version'; key: ObjectKey; entry: VersionEntry; expiresAt: number }
  | { kind: 'progress'; progress: Progress | null }
  /** A changelog bucket was written; it is tombstoned after `expiresAt`. */
  | { kind: 'bucket'; id: string; expiresAt: number }
  /** A changelog bucket was tombstoned. Its entries expire with their segment (they expired already when
   * the processor forgets a bucket); forgetting early is what `reset` is for. */
  | { kind: 'forget-bucket'; id: string }
  /** `replay --reset-state`: everything remembered for the partition is forgotten. */
  | { kind: 'reset' };

export interface StoreCounts {
  dedupe: number;
  version: number;
  tombstone: number;
}

/** How far the store reflects the changelog: every record of this partition before `offset` is applied. */
export interface Checkpoint {
  offset: bigint;
  /** When it was written (ms): diagnostics only. */
  writtenAt: number;
}

export interface PartitionStoreOptions {
  partition: number;
  /** The processor's database (registry.ts opens it); the store keeps to its own key range. */
  engine: StateEngine;
  /** DEDUPE_WINDOW: sets the segment width. */
  windowMs: number;
  /** Entries of the hot-set cache (PROCESSOR_STATE_CACHE_ENTRIES). */
  cacheEntries: number;
  /** The process's budget for the segments' membership filters (segment-filter.ts,
   * PROCESSOR_STATE_FILTER_BYTES); omitted: one of DEFAULT_FILTER_BYTES of its own. */
  filterBudget?: FilterBudget;
  now?: () => number;
}

/** Segments per window: a lookup reads this many keys (+1) per id, and the disk holds up to
 * (1 + 1/SEGMENTS_PER_WINDOW) windows of entries before a segment can be dropped. */
export const SEGMENTS_PER_WINDOW = 4;

type Kind = 'd' | 'v';

interface Segment {
  /** Its number within the partition (the key prefix of its entries); never reused. */
  id: number;
  kind: Kind;
  /** Expiry times in [index·width, (index+1)·width). */
  index: number;
  width: number;
  /** When every entry it holds has expired. */
  end: number;
  /** Distinct keys written into it, and how many of them are tombstones (versions with deleted set). */
  entries: number;
  tombstones: number;
}

interface Meta {
  segments: Segment[];
  nextSegment: number;
  progress: Progress | null;
  checkpoint: { offset: string; writtenAt: number } | null;
  /** Changelog buckets remembered. */
  buckets: number;
}

const emptyMeta = (nextSegment = 0): Meta => ({
  segments: [],
  nextSegment,
  progress: null,
  checkpoint: null,
  buckets: 0,
});

/** One apply's changes until its write is on disk (see PartitionStore.pending). */
interface PendingApply {
  generation: number;
  seen: Map<string, number>;
  versions: Map<string, StoredVersion>;
  /** Changelog buckets it forgets. */
  forgotten: Set<string>;
  /** The progress it sets, if it sets one (a reset sets null). */
  progress?: { value: Progress | null };
  /** It holds a reset: everything before it is forgotten. */
  reset: boolean;
}

interface StoredVersion {
  entry: VersionEntry;
  expiresAt: number;
}

/** A version entry on disk: expiresAt (f64) · deleted (u8) · version length (u8) · version · offset. */
function encodeVersion(v: StoredVersion): Buffer {
  const version = v.entry.version.toString();
  const out = Buffer.allocUnsafe(10 + version.length + v.entry.offset.length);
  out.writeDoubleBE(v.expiresAt, 0);
  out[8] = v.entry.deleted ? 1 : 0;
  out[9] = version.length;
  out.write(version, 10, 'latin1');
  out.write(v.entry.offset, 10 + version.length, 'latin1');
  return out;
}

function decodeVersion(b: Buffer): StoredVersion {
  const length = b[9] ?? 0;
  return {
    expiresAt: b.readDoubleBE(0),
    entry: {
      deleted: b[8] === 1,
      version: BigInt(b.toString('latin1', 10, 10 + length)),
      offset: b.toString('latin1', 10 + length),
    },
  };
}

function f64(n: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeDoubleBE(n, 0);
  return out;
}

/** The key spaces of a partition (the byte after the partition number). */
const META = 0;
const ENTRY = 1;
const BUCKET_BY_EXPIRY = 2;
const BUCKET = 3;
/** Past every key space: [p][1] … [p][END) is everything but the meta record. */
const END = 4;

function keyOf(partition: number, space: number, ...parts: Buffer[]): Buffer {
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(partition, 0);
  head[4] = space;
  return parts.length === 0 ? head : Buffer.concat([head, ...parts]);
}

/** [partition][ENTRY][segment][hash], built in one buffer: a prefetch builds one per key and live
 * segment, and the pieces keyOf would concatenate were a visible share of the store's garbage. */
function entryKey(p: number, segment: number, hash: string): Buffer {
  const out = Buffer.allocUnsafe(9 + hash.length);
  out.writeUInt32BE(p, 0);
  out[4] = ENTRY;
  out.writeUInt32BE(segment, 5);
  // The hash as the caches hold it (keys.ts: one latin1 character per byte), written without a Buffer
  // of its own.
  out.write(hash, 9, 'latin1');
  return out;
}
const bucketKey = (p: number, id: string) => keyOf(p, BUCKET, Buffer.from(id, 'utf8'));
/** Bucket ids are printable ASCII (changelog.ts newBucketId), so 0xff sorts after every id. */
const AFTER_ANY_ID = Buffer.from([0xff]);

/** A lookup that no prefetch of the round covered: a bug in the caller, never an answer to guess. */
export class NotPrefetchedError extends Error {
  constructor(what: string) {
    super(`state lookup of ${what} that the round did not prefetch`);
  }
}

export class PartitionStore {
  readonly partition: number;
  private readonly engine: StateEngine;
  private state: Meta = emptyMeta();
  /** The hot set: each recently read or written key's answer (null: no entry) and where it is on disk
   * (see Location), so a lookup need not read it and a write need not read it to keep the segments'
   * counts exact. */
  private readonly seenCache: HotCache<Cached<number>>;
  private readonly versionCache: HotCache<Cached<StoredVersion>>;
  /** What the round's prefetch read (null: absent), until the next prefetch. */
  private readonly fetchedSeen = new Map<string, number | null>();
  private readonly fetchedVersions = new Map<string, StoredVersion | null>();
  /** The round's ids and keys hashed (the stages and the round's apply look each up again; SHA-256 was a
   * notable share of the processor's CPU when each lookup hashed anew). Cleared by each prefetch. */
  private readonly roundKeys = new Map<string, string>();
  /** Writes that landed while a prefetch was reading: they win over what it read. */
  private landed: { seen: Map<string, number>; versions: Map<string, StoredVersion> } | undefined;
  private readonly width: number;
  private readonly now: () => number;
  private closed = false;
  /** Changes applied but not yet on disk (see apply), by the apply's generation. */
  private generation = 0;
  /** Per apply, oldest first: what it changed. Its write lands whole, so it is dropped whole; a lookup
   * walks them newest first (one per apply in flight). One Map per apply, not an object per entry with
   * its generation: those lived across the disk write and were the largest of the store's allocation
   * sites in last session's profile (docs/benchmarks.md, "The store's own cost"). */
  private readonly pending: PendingApply[] = [];
  /** No bucket expires before this (Infinity: none known); expiredBuckets reads the disk only after it. */
  private nextBucketExpiry = Number.POSITIVE_INFINITY;
  private writes: Promise<void> = Promise.resolve();
  private failure: unknown;
  /** By segment id: the membership filter of each segment this store created (segment-filter.ts). A
   * segment without one (on disk when the store opened) is read for every key. */
  private readonly filters = new Map<number, SegmentFilter>();
  private readonly filterBudget: FilterBudget;

  private constructor(o: PartitionStoreOptions) {
    this.partition = o.partition;
    this.engine = o.engine;
    this.now = o.now ?? Date.now;
    this.width = Math.max(1, Math.ceil(o.windowMs / SEGMENTS_PER_WINDOW));
    const half = Math.max(1, Math.floor(o.cacheEntries / 2));
    this.seenCache = new HotCache(half);
    this.versionCache = new HotCache(half);
    this.filterBudget = o.filterBudget ?? new FilterBudget(DEFAULT_FILTER_BYTES);
  }

  /** Opens the partition's store in `o.engine` (empty if it has never been written). */
  static async open(o: PartitionStoreOptions): Promise<PartitionStore> {
    const store = new PartitionStore(o);
    const [meta] = await o.engine.get([keyOf(o.partition, META)]);
    if (meta) store.setState(parseMeta(meta));
    await store.findNextBucketExpiry();
    return store;
  }

  /** Segments of a kind, newest first (the list is short: ~SEGMENTS_PER_WINDOW + 1). */
  private byAge: Record<Kind, Segment[]> = { d: [], v: [] };

  private setState(next: Meta): void {
    this.state = next;
    // A dropped segment (expired, reset, cleared) gives its filter's memory back.
    for (const [id, filter] of this.filters) {
      if (!next.segments.some((s) => s.id === id)) {
        filter.release();
        this.filters.delete(id);
      }
    }
    const newestFirst = (kind: Kind) =>
      next.segments.filter((s) => s.kind === kind).sort((a, b) => b.end - a.end);
    this.byAge = { d: newestFirst('d'), v: newestFirst('v') };
  }

  /**
   * Reads from disk, in one batch, what the round will look up: the dedupe ids (as notifications carry
   * them) and the object keys (objectKeyString). Until the next prefetch, seen() and version() answer
   * for these from memory. Entries still pending or in the hot cache are not read.
   */
  async prefetch(ids: Iterable<string>, keyStrings: Iterable<string>): Promise<void> {
    this.roundKeys.clear();
    this.fetchedSeen.clear();
    this.fetchedVersions.clear();
    const reads: Buffer[] = [];
    const seen = this.planReads(
      'd',
      [...ids].map((id) => this.roundKey(stateId(id))),
      reads,
    );
    const versions = this.planReads(
      'v',
      [...keyStrings].map((k) => this.roundKey(k)),
      reads,
    );
    const landed = { seen: new Map<string, number>(), versions: new Map<string, StoredVersion>() };
    this.landed = landed;
    let values: Array<Buffer | null>;
    try {
      values = reads.length === 0 ? [] : await this.engine.get(reads);
    } catch (err) {
      // A read that failed (the disk): the store is failed until reopened, as after a failed write, so
      // the partition's worker ends instead of blaming the round's records (partition.ts).
      this.failure ??= err;
      throw err;
    } finally {
      this.landed = undefined;
    }
    // A write that landed meanwhile put its answer and location in the cache itself; else the read
    // tells both.
    for (const [cacheKey, at] of seen.planned) {
      const hit = newestHit(values, at);
      const found = hit < 0 ? null : (values[hit] as Buffer);
      const written = landed.seen.get(cacheKey);
      const expiresAt = written ?? (found === null ? null : found.readDoubleBE(0));
      this.fetchedSeen.set(cacheKey, expiresAt);
      if (written === undefined)
        this.seenCache.set(
          cacheKey,
          expiresAt === null ? ABSENT : { value: expiresAt, at: locationOf(at, hit, found, 'd') },
        );
    }
    for (const [cacheKey, at] of versions.planned) {
      const hit = newestHit(values, at);
      const found = hit < 0 ? null : (values[hit] as Buffer);
      const written = landed.versions.get(cacheKey);
      const stored = written ?? (found === null ? null : decodeVersion(found));
      this.fetchedVersions.set(cacheKey, stored);
      if (written === undefined)
        this.versionCache.set(
          cacheKey,
          stored === null ? ABSENT : { value: stored, at: locationOf(at, hit, found, 'v') },
        );
    }
  }

  /**
   * Adds to `reads` the disk reads for the keys of one kind that memory cannot answer (one per
   * segment, newest first), and returns where each key's reads are and the segments read; the others
   * are answered at once.
   */
  private planReads(
    kind: Kind,
    cacheKeys: readonly string[],
    reads: Buffer[],
  ): { planned: Map<string, PlannedReads> } {
    const planned = new Map<string, PlannedReads>();
    // Every segment still on disk, not only those live at the lookup's time: the read also tells the key's
    // location, which the hot cache keeps for later applies, and a lookup can be ahead of the store's
    // clock (a round's time against the apply's, or a clock stepped back). Filtering by the lookup's time
    // cached "nowhere" for a key still in a segment the next apply kept, and its rewrite was counted
    // twice (seen in CI: store.test.ts's hot-cache property, seed -1639631285). The answer itself is checked against the lookup's
    // time by seen()/version(); the segments past their end but not yet dropped are at most one or two.
    const segments = this.byAge[kind];
    const resetPending = this.resetPending;
    for (const cacheKey of cacheKeys) {
      if (planned.has(cacheKey) || resetPending) continue;
      if (kind === 'd') {
        if (this.fetchedSeen.has(cacheKey) || this.pendingSeen(cacheKey) !== undefined) continue;
        const cached = this.seenCache.get(cacheKey);
        if (cached !== undefined) {
          this.fetchedSeen.set(cacheKey, cached.value);
          continue;
        }
      } else {
        if (this.fetchedVersions.has(cacheKey) || this.pendingVersion(cacheKey) !== undefined) continue;
        const cached = this.versionCache.get(cacheKey);
        if (cached !== undefined) {
          this.fetchedVersions.set(cacheKey, cached.value);
          continue;
        }
      }
      // Only the segments that may hold the key (segment-filter.ts); the list is copied only when a
      // filter rules one out.
      const first = reads.length;
      let read: Segment[] | undefined;
      for (let i = 0; i < segments.length; i++) {
        const s = segments[i] as Segment;
        if (this.filters.get(s.id)?.mayHold(cacheKey) === false) {
          read ??= segments.slice(0, i);
          continue;
        }
        read?.push(s);
        reads.push(entryKey(this.partition, s.id, cacheKey));
      }
      if (reads.length === first) {
        // In no segment: absent, known without a read (and remembered as a read's answer would be).
        if (kind === 'd') {
          this.fetchedSeen.set(cacheKey, null);
          this.seenCache.set(cacheKey, ABSENT);
        } else {
          this.fetchedVersions.set(cacheKey, null);
          this.versionCache.set(cacheKey, ABSENT);
        }
        continue;
      }
      planned.set(cacheKey, { first, count: reads.length - first, segments: read ?? segments });
    }
    return { planned };
  }

  /** The cache key of `s`, hashed once per round. */
  private roundKey(s: string): string {
    let key = this.roundKeys.get(s);
    if (key === undefined) {
      key = stateKeyHash(s);
      this.roundKeys.set(s, key);
    }
    return key;
  }

  /** `id` as the notification carries it; it is looked up bounded, as dedupeEntries wrote it. Answers
   * from memory: the round's prefetch must have covered it. */
  seen(id: string, now: number): boolean {
    const cacheKey = this.roundKey(stateId(id));
    const pending = this.pendingSeen(cacheKey);
    if (pending !== undefined) return pending > now;
    if (this.resetPending) return false;
    const fetched = this.fetchedSeen.get(cacheKey);
    const expiresAt = fetched !== undefined ? fetched : this.seenCache.get(cacheKey)?.value;
    if (expiresAt === null) return false;
    if (expiresAt === undefined) throw new NotPrefetchedError(`notification id ${id}`);
    return expiresAt > now;
  }

  /** The object's last version (keyString: objectKeyString), from memory like seen(). */
  version(keyString: string, now: number): VersionEntry | undefined {
    const cacheKey = this.roundKey(keyString);
    const pending = this.pendingVersion(cacheKey);
    const fetched = this.fetchedVersions.get(cacheKey);
    const stored =
      pending !== undefined
        ? pending
        : this.resetPending
          ? null
          : fetched !== undefined
            ? fetched
            : this.versionCache.get(cacheKey)?.value;
    if (stored === undefined) throw new NotPrefetchedError(`object ${keyString}`);
    return stored !== null && stored.expiresAt > now ? stored.entry : undefined;
  }

  /** The newest pending apply's expiry for the key (undefined: none pending). */
  private pendingSeen(cacheKey: string): number | undefined {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const expiresAt = (this.pending[i] as PendingApply).seen.get(cacheKey);
      if (expiresAt !== undefined) return expiresAt;
    }
    return undefined;
  }

  private pendingVersion(cacheKey: string): StoredVersion | undefined {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const stored = (this.pending[i] as PendingApply).versions.get(cacheKey);
      if (stored !== undefined) return stored;
    }
    return undefined;
  }

  /** seen() for a caller outside a round (tools, tests): reads the disk if it must. */
  async isSeen(id: string, now: number): Promise<boolean> {
    await this.prefetch([id], []);
    return this.seen(id, now);
  }

  /** version() for a caller outside a round (tools, tests). */
  async versionOf(keyString: string, now: number): Promise<VersionEntry | undefined> {
    await this.prefetch([], [keyString]);
    return this.version(keyString, now);
  }

  get progress(): Progress | null {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const set = (this.pending[i] as PendingApply).progress;
      if (set !== undefined) return set.value;
    }
    return this.state.progress;
  }

  /** A reset is applied and not yet on disk: nothing before it answers. */
  private get resetPending(): boolean {
    return this.pending.some((a) => a.reset);
  }

  /** A changelog bucket an apply not yet on disk forgets. */
  private forgetting(id: string): boolean {
    return this.pending.some((a) => a.forgotten.has(id));
  }

  get checkpoint(): Checkpoint | undefined {
    const c = this.state.checkpoint;
    return c === null ? undefined : { offset: BigInt(c.offset), writtenAt: c.writtenAt };
  }

  /** True when `offset` was already handled although the committed offset is behind it. */
  handledAhead(offset: string): boolean {
    const p = this.progress;
    if (p === null) return false;
    const o = BigInt(offset);
    return o >= BigInt(p.next) && o < BigInt(p.through) && !p.unprocessed.includes(offset);
  }

  /**
   * The segment an entry expiring at `expiresAt` is written to: its own, or the newest existing one if
   * that is later. Expiry times are not monotone in log order (instances' clocks differ, a window can
   * change), and a key written again must never land behind its older copy, or newest-first lookups
   * would find the older one.
   */
  private segmentFor(kind: Kind, expiresAt: number, state: Meta): Segment {
    const index = Math.floor(expiresAt / this.width);
    let newest: Segment | undefined;
    for (const s of state.segments) {
      if (s.kind === kind && (newest === undefined || s.end > newest.end)) newest = s;
    }
    const end = (index + 1) * this.width;
    if (newest !== undefined && newest.end >= end) return newest;
    const created: Segment = {
      id: state.nextSegment++,
      kind,
      index,
      width: this.width,
      end,
      entries: 0,
      tombstones: 0,
    };
    state.segments.push(created);
    // Empty when created, so its filter is complete: every key written into it goes through write().
    this.filters.set(created.id, new SegmentFilter(this.filterBudget));
    return created;
  }

  /**
   * Applies changes whose transaction committed, with the changelog offset the store then reflects
   * (omitted: the checkpoint stays). Lookups answer with the changes at once; the disk write (one write
   * batch holding the changes and the checkpoint) follows in the background, in call order, so a round
   * does not wait for it. The promise settles when it is written. A write that fails makes every later
   * apply fail: the owner must drop this store (restore.ts reopens it and restores the tail).
   */
  apply(changes: readonly StateChange[], checkpoint?: bigint): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`state store of partition ${this.partition} is closed`));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const generation = ++this.generation;
    const now = this.now();
    const pending: PendingApply = {
      generation,
      seen: new Map(),
      versions: new Map(),
      forgotten: new Set(),
      reset: false,
    };
    this.pending.push(pending);
    // Each entry's key, hashed once here for the pending maps and the write, and each version as the
    // write stores it and the cache then holds it (one object from here to the cache).
    const keys: Array<string | undefined> = [];
    const stored: Array<StoredVersion | undefined> = [];
    for (const c of changes) {
      let key: string | undefined;
      let version: StoredVersion | undefined;
      switch (c.kind) {
        case 'dedupe':
          key = this.roundKeys.get(c.id) ?? stateKeyHash(c.id);
          if (c.expiresAt > now) pending.seen.set(key, c.expiresAt);
          break;
        case 'version': {
          const keyString = objectKeyString(c.key);
          key = this.roundKeys.get(keyString) ?? stateKeyHash(keyString);
          if (c.expiresAt > now) {
            version = { entry: c.entry, expiresAt: c.expiresAt };
            pending.versions.set(key, version);
          }
          break;
        }
        case 'progress':
          pending.progress = { value: c.progress };
          break;
        case 'forget-bucket':
          pending.forgotten.add(c.id);
          break;
        case 'reset':
          // Everything before it is forgotten, pending changes of earlier applies and of this one too.
          pending.reset = true;
          for (const earlier of this.pending) {
            earlier.seen.clear();
            earlier.versions.clear();
          }
          pending.progress = { value: null };
          break;
        case 'bucket':
          this.nextBucketExpiry = Math.min(this.nextBucketExpiry, c.expiresAt);
          break;
      }
      keys.push(key);
      stored.push(version);
    }
    // The write judges expiry by the clock of this call, not of the moment it runs: the same answer
    // however long the disk takes to get to it.
    const written = this.writes.then(() => this.write(changes, keys, stored, checkpoint, generation, now));
    this.writes = written.catch((err: unknown) => {
      this.failure = err;
    });
    return written;
  }

  /** Resolves when every write asked for so far has reached the disk (or failed). */
  settled(): Promise<void> {
    return this.writes;
  }

  /** True once a disk write failed: the store must be closed and opened again. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  private async write(
    changes: readonly StateChange[],
    keys: ReadonlyArray<string | undefined>,
    stored: ReadonlyArray<StoredVersion | undefined>,
    checkpoint: bigint | undefined,
    generation: number,
    now: number,
  ): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.closed) throw new Error(`state store of partition ${this.partition} is closed`);
    const p = this.partition;
    const next: Meta = {
      ...this.state,
      segments: this.state.segments.map((s) => ({ ...s })),
    };
    const expired = next.segments.filter((s) => s.end <= now);
    next.segments = next.segments.filter((s) => s.end > now);
    // Only what follows the last reset matters: everything before it is forgotten.
    let from = 0;
    changes.forEach((c, i) => {
      if (c.kind === 'reset') from = i + 1;
    });
    const reset = from > 0;
    if (reset) {
      next.segments = [];
      next.progress = null;
      next.buckets = 0;
    }

    // Where each entry goes, and what is there now: segments count distinct keys, and a rewritten
    // tombstone stops counting as one. A key this store read or wrote lately has its location remembered
    // (every key of a round was prefetched); any other (a restore's) is read, in one batch, as is each
    // bucket a change names (a bucket forgotten needs its expiry for its second key).
    const plans: Array<{
      change: StateChange;
      /** The change's index in `changes`. */
      index: number;
      cacheKey: string;
      key?: Buffer;
      segment?: Segment;
      /** Index of the key's read in `reads`, or its remembered location. */
      read?: number;
      known?: Location;
    }> = [];
    const reads: Buffer[] = [];
    for (let i = from; i < changes.length; i++) {
      const change = changes[i] as StateChange;
      const cacheKey = keys[i] ?? '';
      if (change.kind === 'dedupe' || change.kind === 'version') {
        // Already expired (a restore of old records): nothing to remember.
        if (change.expiresAt <= now) continue;
        const kind = change.kind === 'dedupe' ? 'd' : 'v';
        const segment = this.segmentFor(kind, change.expiresAt, next);
        const key = entryKey(p, segment.id, cacheKey);
        // After a reset nothing is anywhere: everything before it was deleted.
        const known =
          reset || this.filters.get(segment.id)?.mayHold(cacheKey) === false
            ? NOWHERE
            : (kind === 'd' ? this.seenCache : this.versionCache).get(cacheKey)?.at;
        if (known !== undefined) plans.push({ change, index: i, cacheKey, key, segment, known });
        else plans.push({ change, index: i, cacheKey, key, segment, read: reads.push(key) - 1 });
      } else if (change.kind === 'bucket' || change.kind === 'forget-bucket') {
        const key = bucketKey(p, change.id);
        plans.push({ change, index: i, cacheKey, key, read: reads.push(key) - 1 });
      } else {
        plans.push({ change, index: i, cacheKey });
      }
    }
    const before = reset || reads.length === 0 ? reads.map(() => null) : await this.engine.get(reads);
    // What this write has put so far (a key can come twice in one write): its location, or a bucket's
    // expiry (null once forgotten).
    const placed: Record<Kind, Map<string, Location>> = { d: new Map(), v: new Map() };
    const buckets = new Map<string, Buffer | null>();
    /** Where the entry's key is before this put, as far as its segment is concerned. */
    const locationBefore = (plan: (typeof plans)[number], kind: Kind, segment: Segment): Location => {
      const own = placed[kind].get(plan.cacheKey);
      if (own !== undefined) return own;
      if (plan.known !== undefined) return plan.known;
      const value = plan.read === undefined ? null : (before[plan.read] ?? null);
      // Read in the entry's own segment: found there, or (for counting) as good as nowhere.
      return value === null ? NOWHERE : location(segment.id, kind === 'v' && value[8] === 1);
    };

    // What the caches will hold once the write landed: the keys and their entries side by side (a tuple
    // per key lived across the write for nothing).
    const seenKeys: string[] = [];
    const seenCached: Array<Cached<number>> = [];
    const versionKeys: string[] = [];
    const versionCached: Array<Cached<StoredVersion>> = [];
    await this.engine.write((ops) => {
      for (const s of expired) ops.deleteRange(entryKey(p, s.id, ''), entryKey(p, s.id + 1, ''));
      if (reset) ops.deleteRange(keyOf(p, ENTRY), keyOf(p, END));
      for (const plan of plans) {
        const { change, cacheKey, key, segment } = plan;
        switch (change.kind) {
          case 'dedupe': {
            if (!key || !segment) break;
            if (!inSegment(locationBefore(plan, 'd', segment), segment)) segment.entries++;
            this.filters.get(segment.id)?.add(cacheKey);
            ops.put(key, f64(change.expiresAt));
            const at = location(segment.id, false);
            placed.d.set(cacheKey, at);
            seenKeys.push(cacheKey);
            seenCached.push({ value: change.expiresAt, at });
            break;
          }
          case 'version': {
            if (!key || !segment) break;
            const was = locationBefore(plan, 'v', segment);
            if (!inSegment(was, segment)) segment.entries++;
            else if (isTombstone(was)) segment.tombstones--;
            if (change.entry.deleted) segment.tombstones++;
            this.filters.get(segment.id)?.add(cacheKey);
            // apply made it (an unexpired version always has one); a restore's too.
            const value = stored[plan.index] ?? { entry: change.entry, expiresAt: change.expiresAt };
            ops.put(key, encodeVersion(value));
            const at = location(segment.id, change.entry.deleted);
            placed.v.set(cacheKey, at);
            versionKeys.push(cacheKey);
            versionCached.push({ value, at });
            break;
          }
          case 'progress':
            next.progress = change.progress;
            break;
          case 'bucket': {
            if (!key) break;
            const old = buckets.has(change.id) ? buckets.get(change.id) : (before[plan.read ?? -1] ?? null);
            if (old) ops.delete(keyOf(p, BUCKET_BY_EXPIRY, old, Buffer.from(change.id, 'utf8')));
            else next.buckets++;
            const value = f64(change.expiresAt);
            ops.put(key, value);
            ops.put(keyOf(p, BUCKET_BY_EXPIRY, value, Buffer.from(change.id, 'utf8')), EMPTY);
            buckets.set(change.id, value);
            break;
          }
          case 'forget-bucket': {
            const old = buckets.has(change.id) ? buckets.get(change.id) : (before[plan.read ?? -1] ?? null);
            if (!key || !old) break;
            ops.delete(key);
            ops.delete(keyOf(p, BUCKET_BY_EXPIRY, old, Buffer.from(change.id, 'utf8')));
            next.buckets--;
            buckets.set(change.id, null);
            break;
          }
          case 'reset':
            break;
        }
      }
      if (checkpoint !== undefined) next.checkpoint = { offset: checkpoint.toString(), writtenAt: now };
      ops.put(keyOf(p, META), Buffer.from(JSON.stringify(next)));
    });
    this.landedAfterWrite(next, reset, { seenKeys, seenCached, versionKeys, versionCached }, generation);
  }

  /** The write is on disk: memory follows it (state, caches, the round's prefetched answers), and the
   * pending copies of this write go, unless a later apply replaced them. */
  private landedAfterWrite(
    next: Meta,
    reset: boolean,
    written: {
      seenKeys: readonly string[];
      seenCached: ReadonlyArray<Cached<number>>;
      versionKeys: readonly string[];
      versionCached: ReadonlyArray<Cached<StoredVersion>>;
    },
    generation: number,
  ): void {
    this.setState(next);
    if (reset) this.forgetMemory();
    written.seenKeys.forEach((k, i) => {
      const cached = written.seenCached[i] as Cached<number>;
      this.seenCache.set(k, cached);
      const e = cached.value as number;
      if (this.fetchedSeen.has(k)) this.fetchedSeen.set(k, e);
      this.landed?.seen.set(k, e);
    });
    written.versionKeys.forEach((k, i) => {
      const cached = written.versionCached[i] as Cached<StoredVersion>;
      this.versionCache.set(k, cached);
      const v = cached.value as StoredVersion;
      if (this.fetchedVersions.has(k)) this.fetchedVersions.set(k, v);
      this.landed?.versions.set(k, v);
    });
    // Writes land in apply order: this one's pending apply is the oldest (with any before it).
    while (this.pending.length > 0 && (this.pending[0] as PendingApply).generation <= generation)
      this.pending.shift();
  }

  /** Caches and prefetched answers, forgotten (after a reset or clear, or before a restore). */
  private forgetMemory(): void {
    this.seenCache.clear();
    this.versionCache.clear();
    this.fetchedSeen.clear();
    this.fetchedVersions.clear();
  }

  /** Forgets everything, checkpoint included (a full restore starts from here). */
  async clear(): Promise<void> {
    await this.writes;
    const p = this.partition;
    const next = emptyMeta(this.state.nextSegment);
    await this.engine.write((ops) => {
      ops.deleteRange(keyOf(p, ENTRY), keyOf(p, END));
      ops.put(keyOf(p, META), Buffer.from(JSON.stringify(next)));
    });
    this.setState(next);
    this.forgetMemory();
    this.nextBucketExpiry = Number.POSITIVE_INFINITY;
  }

  /** Empties the hot-set cache (before a restore: another instance may have owned the partition since). */
  dropCache(): void {
    this.forgetMemory();
  }

  /** Tombstones for up to `max` changelog buckets whose entries have all expired at `now`. */
  async expiredBuckets(now: number, max: number): Promise<StateChange[]> {
    if (now < this.nextBucketExpiry || max <= 0) return [];
    const p = this.partition;
    // Forgotten by an apply still being written: on disk still, skipped, so read past them.
    const found = await this.engine.scan(
      keyOf(p, BUCKET_BY_EXPIRY),
      keyOf(p, BUCKET_BY_EXPIRY, f64(now), AFTER_ANY_ID),
      max + this.pending.reduce((n, a) => n + a.forgotten.size, 0),
    );
    const out: StateChange[] = [];
    for (const { key } of found) {
      const id = key.toString('utf8', 13);
      if (this.forgetting(id)) continue;
      if (out.length < max) out.push({ kind: 'forget-bucket', id });
    }
    if (out.length === 0) await this.findNextBucketExpiry();
    return out;
  }

  /** Reads when the next bucket expires (the first in expiry order). */
  private async findNextBucketExpiry(): Promise<void> {
    const p = this.partition;
    const [first] = await this.engine.scan(keyOf(p, BUCKET_BY_EXPIRY), keyOf(p, BUCKET), 1);
    this.nextBucketExpiry = first ? first.key.readDoubleBE(5) : Number.POSITIVE_INFINITY;
  }

  get bucketCount(): number {
    return this.state.buckets;
  }

  /**
   * Entries stored, by kind (distinct keys per live segment: an entry written again after its segment
   * closed counts once per segment it is in until the older one is dropped).
   */
  counts(): StoreCounts {
    const now = this.now();
    const out: StoreCounts = { dedupe: 0, version: 0, tombstone: 0 };
    for (const s of this.state.segments) {
      if (s.end <= now) continue;
      if (s.kind === 'd') out.dedupe += s.entries;
      else {
        out.version += s.entries - s.tombstones;
        out.tombstone += s.tombstones;
      }
    }
    return out;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops accepting applies once those already asked for are written (the engine stays open). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.writes;
    this.closed = true;
    // The budget is the process's: a revoked partition's filters go back to it.
    for (const filter of this.filters.values()) filter.release();
    this.filters.clear();
  }

  /** Memory the segments' filters hold (diagnostics, tests). */
  get filterBytes(): number {
    let n = 0;
    for (const f of this.filters.values()) n += f.bytes;
    return n;
  }
}

const EMPTY = Buffer.alloc(0);

/** Where a key's reads are in a prefetch's batch: `count` from `first`, one per segment of `segments`
 * (newest first: the segments that may hold the key). */
interface PlannedReads {
  first: number;
  count: number;
  segments: readonly Segment[];
}

/** The index of the first non-null value among a key's reads (newest segment first); -1: none. */
function newestHit(values: ReadonlyArray<Buffer | null>, at: PlannedReads): number {
  for (let i = at.first; i < at.first + at.count; i++) {
    if (values[i]) return i;
  }
  return -1;
}

/**
 * Where a key's newest copy is on disk, as one number: its segment's id × 2, + 1 when that copy is a
 * tombstone; NOWHERE when no live segment holds it. A write goes into the kind's newest segment (or a
 * newer one: segmentFor), so "is the key in the segment written to" — all the counts need — is "is its
 * newest copy there".
 */
type Location = number;

/** A key as the hot cache holds it. */
interface Cached<V> {
  /** Its answer; null: no entry (also remembered, so a new key is not read twice). */
  value: V | null;
  at: Location;
}
const NOWHERE: Location = -1;
/** The cache entry of every key found nowhere: most keys a round reads are new, and one shared entry
 * spares an object per key that the cache would keep (and V8 promote) until its write replaced it. */
const ABSENT: Cached<never> = Object.freeze({ value: null, at: NOWHERE });
const location = (segment: number, tombstone: boolean): Location => segment * 2 + (tombstone ? 1 : 0);
const inSegment = (l: Location, s: Segment): boolean => l !== NOWHERE && Math.floor(l / 2) === s.id;
const isTombstone = (l: Location): boolean => l !== NOWHERE && l % 2 === 1;

/** The location a prefetch's reads of one key found (`hit`: newestHit's index, `found` its value). */
function locationOf(at: PlannedReads, hit: number, found: Buffer | null, kind: Kind): Location {
  const segment = hit < 0 ? undefined : at.segments[hit - at.first];
  if (segment === undefined || found === null) return NOWHERE;
  return location(segment.id, kind === 'v' && found[8] === 1);
}

function isSegment(v: unknown): v is Segment {
  if (typeof v !== 'object' || v === null) return false;
  const s: Record<string, unknown> = { ...v };
  return (
    (s.kind === 'd' || s.kind === 'v') &&
    ['id', 'index', 'width', 'end', 'entries', 'tombstones'].every((f) => typeof s[f] === 'number')
  );
}

/** The meta record, checked: a record that is not one (another program's data, an older layout) is an
 * error, so the registry rebuilds the database from the changelog instead of trusting it. */
function parseMeta(b: Buffer): Meta {
  const v: unknown = JSON.parse(b.toString('utf8'));
  if (typeof v === 'object' && v !== null) {
    const m: Record<string, unknown> = { ...v };
    if (
      Array.isArray(m.segments) &&
      m.segments.every(isSegment) &&
      typeof m.nextSegment === 'number' &&
      typeof m.buckets === 'number'
    ) {
      return {
        segments: m.segments,
        nextSegment: m.nextSegment,
        buckets: m.buckets,
        progress: isProgress(m.progress) ? m.progress : null,
        checkpoint: isCheckpoint(m.checkpoint) ? m.checkpoint : null,
      };
    }
  }
  throw new Error('state meta record is not in the expected format');
}

function isProgress(v: unknown): v is Progress {
  if (typeof v !== 'object' || v === null) return false;
  const p: Record<string, unknown> = { ...v };
  return typeof p.next === 'string' && typeof p.through === 'string' && Array.isArray(p.unprocessed);
}

function isCheckpoint(v: unknown): v is { offset: string; writtenAt: number } {
  if (typeof v !== 'object' || v === null) return false;
  const c: Record<string, unknown> = { ...v };
  return typeof c.offset === 'string' && typeof c.writtenAt === 'number';
}
