/**
 * The per-partition state store: what the processor must remember about one input partition to stay
 * exactly-once across restarts and takeovers (docs/architecture.md, "Exactly-once effect"):
 *
 * - dedupe ids: notification ids handled within DEDUPE_WINDOW;
 * - versions: per object, the last emitted version, or a tombstone (deleted) with its version;
 * - progress: when a slow grant was set aside, which offsets past the committed one are already handled;
 * - the changelog buckets holding them (processors/state/changelog.ts), each with its expiry, so it can be
 *   tombstoned in Kafka once everything in it has expired.
 *
 * It lives in memory and is changed only by applying StateChanges after the transaction that wrote them
 * to the changelog committed, so memory never runs ahead of Kafka. Entries expire DEDUPE_WINDOW after
 * their last write: lookups ignore them at once; they leave memory when their bucket is tombstoned.
 */
import { objectKeyString } from '../object-identity';
import type { VersionEntry } from '../stages/order';
import type { ObjectKey } from '../types';
import { stateId } from './keys';

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
  /** A changelog bucket was written holding these entries; it is tombstoned after `expiresAt`. */
  | { kind: 'bucket'; id: string; expiresAt: number; ids: string[]; versionKeys: ObjectKey[] }
  /** A changelog bucket was tombstoned: its entries not written again since are forgotten. */
  | { kind: 'forget-bucket'; id: string };

interface Bucket {
  expiresAt: number;
  ids: string[];
  versionKeys: ObjectKey[];
}

interface StoredVersion {
  key: ObjectKey;
  entry: VersionEntry;
  expiresAt: number;
}

export interface StoreCounts {
  dedupe: number;
  version: number;
  tombstone: number;
}

export class PartitionStore {
  // Maps keep insertion order; an entry is moved to the end on every write, so the front holds the
  // earliest expiry and prune() stops at the first live entry.
  private readonly ids = new Map<string, number>();
  private readonly versions = new Map<string, StoredVersion>();
  private readonly buckets = new Map<string, Bucket>();
  private tombstones = 0;
  private progressEntry: Progress | null = null;

  constructor(readonly partition: number) {}

  /** `id` as the notification carries it; it is looked up bounded, as dedupeEntries wrote it. */
  seen(id: string, now: number): boolean {
    const e = this.ids.get(stateId(id));
    return e !== undefined && e > now;
  }

  version(keyString: string, now: number): VersionEntry | undefined {
    const v = this.versions.get(keyString);
    return v !== undefined && v.expiresAt > now ? v.entry : undefined;
  }

  get progress(): Progress | null {
    return this.progressEntry;
  }

  /** True when `offset` was already handled although the committed offset is behind it. */
  handledAhead(offset: string): boolean {
    const p = this.progressEntry;
    if (p === null) return false;
    const o = BigInt(offset);
    return o >= BigInt(p.next) && o < BigInt(p.through) && !p.unprocessed.includes(offset);
  }

  private setVersion(keyString: string, v: StoredVersion): void {
    const before = this.versions.get(keyString);
    if (before?.entry.deleted) this.tombstones--;
    this.versions.delete(keyString);
    this.versions.set(keyString, v);
    if (v.entry.deleted) this.tombstones++;
  }

  apply(changes: readonly StateChange[]): void {
    for (const c of changes) {
      switch (c.kind) {
        case 'dedupe':
          this.ids.delete(c.id);
          this.ids.set(c.id, c.expiresAt);
          break;
        case 'version':
          this.setVersion(objectKeyString(c.key), { key: c.key, entry: c.entry, expiresAt: c.expiresAt });
          break;
        case 'progress':
          this.progressEntry = c.progress;
          break;
        case 'bucket':
          this.buckets.delete(c.id);
          this.buckets.set(c.id, { expiresAt: c.expiresAt, ids: c.ids, versionKeys: c.versionKeys });
          break;
        case 'forget-bucket':
          this.forgetBucket(c.id);
          break;
      }
    }
  }

  /**
   * Forgets what a tombstoned bucket held, except entries written again later (their expiry is later
   * than the bucket's). After expiry that drops expired entries from memory; after `replay
   * --reset-state` (every bucket of the partition tombstoned) it forgets everything, also on restore,
   * before compaction has removed the bucket's data record.
   */
  private forgetBucket(id: string): void {
    const b = this.buckets.get(id);
    if (b === undefined) return;
    this.buckets.delete(id);
    for (const n of b.ids) {
      const e = this.ids.get(n);
      if (e !== undefined && e <= b.expiresAt) this.ids.delete(n);
    }
    for (const key of b.versionKeys) {
      const k = objectKeyString(key);
      const v = this.versions.get(k);
      if (v !== undefined && v.expiresAt <= b.expiresAt) {
        if (v.entry.deleted) this.tombstones--;
        this.versions.delete(k);
      }
    }
  }

  /** Tombstones for up to `max` changelog buckets whose entries have all expired at `now`. */
  expiredBuckets(now: number, max: number): StateChange[] {
    const out: StateChange[] = [];
    // Buckets are tracked in the order they were written, so the first live one ends the scan.
    for (const [id, b] of this.buckets) {
      if (out.length >= max || b.expiresAt > now) break;
      out.push({ kind: 'forget-bucket', id });
    }
    return out;
  }

  get bucketCount(): number {
    return this.buckets.size;
  }

  counts(): StoreCounts {
    return {
      dedupe: this.ids.size,
      version: this.versions.size - this.tombstones,
      tombstone: this.tombstones,
    };
  }
}
