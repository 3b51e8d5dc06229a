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
 * It lives on local disk (LMDB, one environment per input partition under PROCESSOR_STATE_DIR), so the
 * heap holds only a bounded cache of the hot set, whatever the traffic and the window: a lookup is a
 * synchronous read from the memory map (a few µs), which keeps the stages' interface synchronous.
 * docs/decisions/0005-state-on-disk.md has the measurements behind the engine.
 *
 * Keys are fixed-size: the first 128 bits of SHA-256 of the id (keys.ts, stateKeyHash). Entries live in
 * time segments by expiry: a segment covers DEDUPE_WINDOW / SEGMENTS_PER_WINDOW of expiry times, and
 * once its end has passed every entry in it has expired, so it is dropped whole (no scan, no per-entry
 * delete). A lookup tries the live segments newest first; the first hit is the latest write because a
 * write never goes into a segment older than the newest one (see segmentFor).
 *
 * The changelog topic stays the source of truth: the store changes only when apply() is given changes
 * whose transaction committed, and each apply writes the changes and the new checkpoint in one LMDB
 * transaction. A crash before that write leaves the old checkpoint, and the next restore re-applies the
 * tail from there (re-applying changes in log order is idempotent).
 */
import { closeSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Database, open, type RootDatabase, type RootDatabaseOptionsWithPath } from 'lmdb';
import { objectKeyString } from '../object-identity';
import type { VersionEntry } from '../stages/order';
import type { ObjectKey } from '../types';
import { HotCache } from './hot-cache';
import { stateId, stateKeyHash } from './keys';

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
  /** This partition's own directory (registry.ts names it). */
  path: string;
  /** DEDUPE_WINDOW: sets the segment width. */
  windowMs: number;
  /** Entries of the hot-set cache (PROCESSOR_STATE_CACHE_ENTRIES). */
  cacheEntries: number;
  now?: () => number;
}

/** Segments per window: a lookup miss costs this many reads (+1), and the disk holds up to
 * (1 + 1/SEGMENTS_PER_WINDOW) windows of entries before a segment can be dropped. */
export const SEGMENTS_PER_WINDOW = 4;

/** Far above any one partition's store; a larger store still works (lmdb-js grows the map). */
const MAP_SIZE_BYTES = 64 * 1024 ** 3;

type Kind = 'd' | 'v';

interface Segment {
  kind: Kind;
  /** Segment number: expiry times in [index·width, (index+1)·width). */
  index: number;
  width: number;
  /** When every entry it holds has expired. */
  end: number;
  /** Tombstones written into it (versions with deleted set), for counts(). */
  tombstones: number;
}

interface Meta {
  segments: Segment[];
  progress: Progress | null;
  checkpoint: { offset: string; writtenAt: number } | null;
}

const META_KEY = 'meta';
const EMPTY = Buffer.alloc(0);

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

function encodeExpiry(expiresAt: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeDoubleBE(expiresAt, 0);
  return out;
}

/** The key of an id in the caches and pending maps: its hash as a 16-character string. */
const cacheKeyOf = (id: string) => stateKeyHash(id).toString('latin1');

const segmentName = (s: Pick<Segment, 'kind' | 'index' | 'width'>) => `${s.kind}:${s.width}:${s.index}`;

export class PartitionStore {
  readonly partition: number;
  private readonly root: RootDatabase;
  private readonly meta: Database<Meta, string>;
  /** Changelog buckets: id → expiresAt, and (expiresAt, id) in expiry order for expiredBuckets(). */
  private readonly bucketsById: Database<number, string>;
  private readonly bucketsByExpiry: Database<Buffer, [number, string]>;
  private readonly segmentDbs = new Map<string, Database<Buffer, Buffer>>();
  private state: Meta = { segments: [], progress: null, checkpoint: null };
  private readonly seenCache: HotCache<number>;
  private readonly versionCache: HotCache<StoredVersion>;
  private readonly width: number;
  private readonly now: () => number;
  private closed = false;
  /** Changes applied but not yet on disk (see apply), by the apply's generation. */
  private generation = 0;
  private readonly pendingSeen = new Map<string, { expiresAt: number; generation: number }>();
  private readonly pendingVersions = new Map<string, { stored: StoredVersion; generation: number }>();
  private readonly pendingForgotten = new Map<string, number>();
  private pendingProgress: { progress: Progress | null; generation: number } | undefined;
  private pendingReset: number | undefined;
  private writes: Promise<void> = Promise.resolve();
  private failure: unknown;

  private constructor(private readonly o: PartitionStoreOptions) {
    this.partition = o.partition;
    this.now = o.now ?? Date.now;
    this.width = Math.max(1, Math.ceil(o.windowMs / SEGMENTS_PER_WINDOW));
    mkdirSync(o.path, { recursive: true });
    const options: RootDatabaseOptionsWithPath & { noReadAhead: boolean } = {
      path: o.path,
      // A directory even when its name looks like a file name: lmdb-js takes `x.raw-1` for a file.
      noSubdir: false,
      // Segments come and go (2 kinds × ~SEGMENTS_PER_WINDOW live, more after a window change).
      maxDbs: 256,
      // Lookups are random: read-ahead would only pull neighbouring pages into memory (MDB_NORDAHEAD;
      // lmdb-js reads the option but its types omit it).
      noReadAhead: true,
      // A commit resolves once visible, not once flushed: the checkpoint is written in the same LMDB
      // transaction, so a crash that loses an unflushed commit loses its checkpoint too, and the restore
      // re-applies those records from the changelog. LMDB keeps the file consistent either way.
      separateFlushed: true,
      // Address space for the file reserved up front (no disk or memory is used until pages are
      // written). Without it lmdb-js starts with a 128 KiB map and doubles it as the file grows,
      // keeping every earlier map: a page touched through several maps counts once per map in the
      // process's RSS, which then reads up to twice the file (docs/benchmarks.md, "State at scale").
      mapSize: MAP_SIZE_BYTES,
    };
    assertLmdbFile(join(o.path, 'data.mdb'));
    this.root = open(options);
    this.meta = this.root.openDB<Meta, string>('meta', { encoding: 'json' });
    this.bucketsById = this.root.openDB<number, string>('buckets', { encoding: 'json' });
    this.bucketsByExpiry = this.root.openDB<Buffer, [number, string]>('buckets-by-expiry', {
      encoding: 'binary',
    });
    this.setState(this.meta.get(META_KEY) ?? { segments: [], progress: null, checkpoint: null });
    const half = Math.max(1, Math.floor(o.cacheEntries / 2));
    this.seenCache = new HotCache(half);
    this.versionCache = new HotCache(half);
  }

  /** Opens (creating if needed) the store at `o.path`. */
  static open(o: PartitionStoreOptions): PartitionStore {
    return new PartitionStore(o);
  }

  private db(s: Segment): Database<Buffer, Buffer> {
    const name = segmentName(s);
    let db = this.segmentDbs.get(name);
    if (db === undefined) {
      db = this.root.openDB<Buffer, Buffer>(name, { keyEncoding: 'binary', encoding: 'binary' });
      this.segmentDbs.set(name, db);
    }
    return db;
  }

  /** Segments of a kind with their databases, newest first (the list is short: ~SEGMENTS_PER_WINDOW + 1),
   * kept so a lookup neither sorts nor names a segment; lookups skip the ones that ended. */
  private byAge: Record<Kind, Array<{ end: number; db: Database<Buffer, Buffer> }>> = { d: [], v: [] };

  private setState(next: Meta): void {
    this.state = next;
    const newestFirst = (kind: Kind) =>
      next.segments
        .filter((s) => s.kind === kind)
        .sort((a, b) => b.end - a.end)
        .map((s) => ({ end: s.end, db: this.db(s) }));
    this.byAge = { d: newestFirst('d'), v: newestFirst('v') };
  }

  /** `id` as the notification carries it; it is looked up bounded, as dedupeEntries wrote it. */
  seen(id: string, now: number): boolean {
    const key = stateKeyHash(stateId(id));
    const cacheKey = key.toString('latin1');
    const pending = this.pendingSeen.get(cacheKey);
    if (pending !== undefined) return pending.expiresAt > now;
    if (this.pendingReset) return false;
    const cached = this.seenCache.get(cacheKey);
    if (cached !== undefined) return cached > now;
    for (const s of this.byAge.d) {
      if (s.end <= now) break;
      const b = s.db.getBinary(key);
      if (b !== undefined) {
        const expiresAt = b.readDoubleBE(0);
        this.seenCache.set(cacheKey, expiresAt);
        return expiresAt > now;
      }
    }
    return false;
  }

  version(keyString: string, now: number): VersionEntry | undefined {
    const v = this.storedVersion(stateKeyHash(keyString), now);
    return v !== undefined && v.expiresAt > now ? v.entry : undefined;
  }

  private storedVersion(key: Buffer, now: number): StoredVersion | undefined {
    const cacheKey = key.toString('latin1');
    const pending = this.pendingVersions.get(cacheKey);
    if (pending !== undefined) return pending.stored;
    if (this.pendingReset) return undefined;
    const cached = this.versionCache.get(cacheKey);
    if (cached !== undefined) return cached;
    for (const s of this.byAge.v) {
      if (s.end <= now) break;
      const b = s.db.getBinary(key);
      if (b !== undefined) {
        const v = decodeVersion(b);
        this.versionCache.set(cacheKey, v);
        return v;
      }
    }
    return undefined;
  }

  get progress(): Progress | null {
    return this.pendingProgress !== undefined ? this.pendingProgress.progress : this.state.progress;
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
    const created: Segment = { kind, index, width: this.width, end, tombstones: 0 };
    state.segments.push(created);
    return created;
  }

  /**
   * Applies changes whose transaction committed, with the changelog offset the store then reflects
   * (omitted: the checkpoint stays). Lookups answer with the changes at once; the disk write (one LMDB
   * transaction holding the changes and the checkpoint) follows in the background, in call order, so a
   * round does not wait for it. The promise settles when it is written. A write that fails makes every
   * later apply fail: the owner must drop this store (restore.ts reopens it and restores the tail).
   */
  apply(changes: readonly StateChange[], checkpoint?: bigint): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`state store of partition ${this.partition} is closed`));
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const generation = ++this.generation;
    const now = this.now();
    // Each entry's key, hashed once here for the pending maps and the write.
    const keys: Array<string | undefined> = [];
    for (const c of changes) {
      switch (c.kind) {
        case 'dedupe': {
          const key = cacheKeyOf(c.id);
          keys.push(key);
          if (c.expiresAt > now) this.pendingSeen.set(key, { expiresAt: c.expiresAt, generation });
          break;
        }
        case 'version': {
          const key = cacheKeyOf(objectKeyString(c.key));
          keys.push(key);
          if (c.expiresAt > now) {
            const stored = { entry: c.entry, expiresAt: c.expiresAt };
            this.pendingVersions.set(key, { stored, generation });
          }
          break;
        }
        case 'progress':
          keys.push(undefined);
          this.pendingProgress = { progress: c.progress, generation };
          break;
        case 'forget-bucket':
          keys.push(undefined);
          this.pendingForgotten.set(c.id, generation);
          break;
        case 'reset':
          // Everything before it is forgotten, pending changes of earlier applies and of this one too.
          this.pendingReset = generation;
          this.pendingSeen.clear();
          this.pendingVersions.clear();
          this.pendingProgress = { progress: null, generation };
          keys.push(undefined);
          break;
        case 'bucket':
          keys.push(undefined);
          break;
      }
    }
    const written = this.writes.then(() => this.write(changes, keys, checkpoint, generation));
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
    checkpoint: bigint | undefined,
    generation: number,
  ) {
    if (this.failure !== undefined) throw this.failure;
    const now = this.now();
    const next: Meta = {
      segments: this.state.segments.map((s) => ({ ...s })),
      progress: this.state.progress,
      checkpoint: this.state.checkpoint,
    };
    const seen: Array<[string, number]> = [];
    const versions: Array<[string, StoredVersion]> = [];
    let reset = false;
    const drop = (segments: Segment[]) => {
      for (const s of segments) {
        this.db(s).dropSync();
        this.segmentDbs.delete(segmentName(s));
      }
    };
    await this.root.transaction(() => {
      drop(next.segments.filter((s) => s.end <= now));
      next.segments = next.segments.filter((s) => s.end > now);
      changes.forEach((c, i) => {
        const cacheKey = keys[i] ?? '';
        switch (c.kind) {
          case 'dedupe': {
            // Already expired (a restore of old records): nothing to remember.
            if (c.expiresAt <= now) break;
            const key = Buffer.from(cacheKey, 'latin1');
            this.db(this.segmentFor('d', c.expiresAt, next)).putSync(key, encodeExpiry(c.expiresAt));
            seen.push([cacheKey, c.expiresAt]);
            break;
          }
          case 'version': {
            if (c.expiresAt <= now) break;
            const key = Buffer.from(cacheKey, 'latin1');
            const segment = this.segmentFor('v', c.expiresAt, next);
            const db = this.db(segment);
            const before = db.getBinary(key);
            if (before !== undefined && before[8] === 1) segment.tombstones--;
            if (c.entry.deleted) segment.tombstones++;
            const stored = { entry: c.entry, expiresAt: c.expiresAt };
            db.putSync(key, encodeVersion(stored));
            versions.push([cacheKey, stored]);
            break;
          }
          case 'progress':
            next.progress = c.progress;
            break;
          case 'bucket':
            this.bucketsById.putSync(c.id, c.expiresAt);
            this.bucketsByExpiry.putSync([c.expiresAt, c.id], EMPTY);
            break;
          case 'forget-bucket': {
            const expiresAt = this.bucketsById.get(c.id);
            if (expiresAt === undefined) break;
            this.bucketsById.removeSync(c.id);
            this.bucketsByExpiry.removeSync([expiresAt, c.id]);
            break;
          }
          case 'reset':
            reset = true;
            // Dropped at once: a later change of this apply may reopen a segment of the same name.
            drop(next.segments);
            next.segments = [];
            next.progress = null;
            seen.length = 0;
            versions.length = 0;
            this.bucketsById.clearSync();
            this.bucketsByExpiry.clearSync();
            break;
        }
      });
      if (checkpoint !== undefined) next.checkpoint = { offset: checkpoint.toString(), writtenAt: now };
      this.meta.putSync(META_KEY, next);
    });
    this.setState(next);
    if (reset) {
      this.seenCache.clear();
      this.versionCache.clear();
    }
    for (const [k, e] of seen) this.seenCache.set(k, e);
    for (const [k, v] of versions) this.versionCache.set(k, v);
    // On disk and in the cache now: the pending copies of this write go, unless a later apply replaced them.
    for (const [k, e] of this.pendingSeen) if (e.generation <= generation) this.pendingSeen.delete(k);
    for (const [k, e] of this.pendingVersions) if (e.generation <= generation) this.pendingVersions.delete(k);
    for (const [id, g] of this.pendingForgotten) if (g <= generation) this.pendingForgotten.delete(id);
    if (this.pendingProgress !== undefined && this.pendingProgress.generation <= generation)
      this.pendingProgress = undefined;
    if (this.pendingReset !== undefined && this.pendingReset <= generation) this.pendingReset = undefined;
  }

  /** Forgets everything, checkpoint included (a full restore starts from here). */
  async clear(): Promise<void> {
    await this.writes;
    const all = this.state.segments;
    await this.root.transaction(() => {
      for (const s of all) this.db(s).dropSync();
      this.bucketsById.clearSync();
      this.bucketsByExpiry.clearSync();
      this.meta.putSync(META_KEY, { segments: [], progress: null, checkpoint: null });
    });
    this.segmentDbs.clear();
    this.setState({ segments: [], progress: null, checkpoint: null });
    this.seenCache.clear();
    this.versionCache.clear();
  }

  /** Empties the hot-set cache (before a restore: another instance may have owned the partition since). */
  dropCache(): void {
    this.seenCache.clear();
    this.versionCache.clear();
  }

  /** Tombstones for up to `max` changelog buckets whose entries have all expired at `now`. */
  expiredBuckets(now: number, max: number): StateChange[] {
    const out: StateChange[] = [];
    for (const key of this.bucketsByExpiry.getKeys({ end: [now, '\uffff'], limit: max })) {
      const [expiresAt, id] = key;
      if (expiresAt > now) break;
      // Already forgotten by an apply still being written: not again.
      if (this.pendingForgotten.has(id)) continue;
      out.push({ kind: 'forget-bucket', id });
    }
    return out;
  }

  get bucketCount(): number {
    return entryCount(this.bucketsById);
  }

  /**
   * Entries stored, by kind. Counted per live segment, so an entry written again after its segment
   * closed counts once per segment it is in until the older one is dropped.
   */
  counts(): StoreCounts {
    const now = this.now();
    const out: StoreCounts = { dedupe: 0, version: 0, tombstone: 0 };
    for (const s of this.state.segments) {
      if (s.end <= now) continue;
      const n = entryCount(this.db(s));
      if (s.kind === 'd') out.dedupe += n;
      else {
        out.version += n - s.tombstones;
        out.tombstone += s.tombstones;
      }
    }
    return out;
  }

  /** Bytes the store takes on disk (the LMDB data file; it grows, then pages are reused). */
  diskBytes(): number {
    return directoryBytes(this.o.path);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writes;
    await this.root.close();
  }
}

/** Entries in one LMDB database (its B-tree's own count: no scan). */
function entryCount(
  db: Database<unknown, never> | Database<Buffer, Buffer> | Database<number, string>,
): number {
  return (db.getStats() as { entryCount: number }).entryCount;
}

/** LMDB's magic number (MDB_MAGIC), at the start of the meta record on the file's first page. */
const LMDB_MAGIC = 0xbeefc0de;
/** Where the meta record starts in lmdb-js's build of LMDB (after its 24-byte page header). */
const LMDB_MAGIC_OFFSET = 24;

/**
 * Throws when `file` exists but is not an LMDB data file, so the registry removes and rebuilds it. lmdb-js
 * does not refuse such a file: opening it crashes the process (SIGSEGV), and a processor restarted on the
 * same disk would crash again. LMDB keeps no checksums, so damage past the header is not detected here.
 */
function assertLmdbFile(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return; // No file yet: LMDB creates it.
  }
  try {
    const header = Buffer.alloc(LMDB_MAGIC_OFFSET + 4);
    const read = readSync(fd, header, 0, header.length, 0);
    // An empty file is what a crash right after creating it leaves; LMDB initialises it.
    if (read === 0) return;
    if (read < header.length || header.readUInt32LE(LMDB_MAGIC_OFFSET) !== LMDB_MAGIC)
      throw new Error(`${file} is not an LMDB data file`);
  } finally {
    closeSync(fd);
  }
}

function directoryBytes(path: string): number {
  let total = 0;
  try {
    for (const name of readdirSync(path)) total += statSync(join(path, name)).size;
  } catch {
    return 0;
  }
  return total;
}

/** Removes a partition's store from disk (a store that cannot be opened is rebuilt from the changelog). */
export function removeStore(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
