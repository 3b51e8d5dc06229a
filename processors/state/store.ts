/**
 * The per-partition state store: what the processor must remember about one input partition to stay
 * exactly-once across restarts and takeovers (ARCHITECTURE.md, "Exactly-once effect"):
 *
 * - dedupe ids: notification ids handled within DEDUPE_WINDOW;
 * - versions: per object, the last emitted version, or a tombstone (deleted) with its version;
 * - progress: when a slow grant was set aside, which offsets past the committed one are already handled;
 * - the changelog buckets holding them (processors/state/changelog.ts), each with its expiry, so it can be
 *   tombstoned in Kafka once everything in it has expired.
 *
 * It lives in memory and is changed only by applying StateChanges after the transaction that wrote them
 * to the changelog committed, so memory never runs ahead of Kafka. Entries expire DEDUPE_WINDOW after
 * their last write: lookups ignore them at once, prune() drops them from memory.
 */
import { objectKeyString, type VersionEntry } from '../stages/order';
import type { ObjectKey } from '../types';

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
  /** A changelog bucket was tombstoned. */
  | { kind: 'forget-bucket'; id: string };

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
  private readonly buckets = new Map<string, number>();
  private tombstones = 0;
  private progressEntry: Progress | null = null;

  constructor(readonly partition: number) {}

  seen(id: string, now: number): boolean {
    const e = this.ids.get(id);
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
          this.buckets.set(c.id, c.expiresAt);
          break;
        case 'forget-bucket':
          this.buckets.delete(c.id);
          break;
      }
    }
  }

  /** Tombstones for up to `max` changelog buckets whose entries have all expired at `now`. */
  expiredBuckets(now: number, max: number): StateChange[] {
    const out: StateChange[] = [];
    // Buckets are tracked in the order they were written, so the first live one ends the scan.
    for (const [id, expiresAt] of this.buckets) {
      if (out.length >= max || expiresAt > now) break;
      out.push({ kind: 'forget-bucket', id });
    }
    return out;
  }

  /** Drops expired entries from memory (nothing to write: their buckets carry the expiry). */
  prune(now: number, max = Number.POSITIVE_INFINITY): number {
    let n = 0;
    for (const [id, expiresAt] of this.ids) {
      if (n >= max || expiresAt > now) break;
      this.ids.delete(id);
      n++;
    }
    for (const [k, v] of this.versions) {
      if (n >= max || v.expiresAt > now) break;
      if (v.entry.deleted) this.tombstones--;
      this.versions.delete(k);
      n++;
    }
    return n;
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
