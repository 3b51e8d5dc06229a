/**
 * The per-partition state store: what the processor must remember about one input partition to stay
 * exactly-once across restarts and takeovers (ARCHITECTURE.md, "Exactly-once effect"):
 *
 * - dedupe ids: notification ids handled within DEDUPE_WINDOW;
 * - versions: per object, the last emitted version, or a tombstone (deleted) with its version;
 * - progress: when a slow grant was set aside, which offsets past the committed one are already handled.
 *
 * It lives in memory and is changed only by applying StateChanges after the transaction that wrote them
 * to the changelog (processors/state/changelog.ts) committed, so memory never runs ahead of Kafka.
 * Entries expire DEDUPE_WINDOW after their last write; expiry becomes `forget` changes, written as Kafka
 * tombstones so the compacted topic stays small.
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
  | { kind: 'forget-dedupe'; id: string }
  | { kind: 'forget-version'; key: ObjectKey };

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
  // earliest expiry and a sweep stops at the first live entry.
  private readonly ids = new Map<string, number>();
  private readonly versions = new Map<string, StoredVersion>();
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

  private deleteVersion(keyString: string): void {
    const before = this.versions.get(keyString);
    if (before === undefined) return;
    if (before.entry.deleted) this.tombstones--;
    this.versions.delete(keyString);
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
        case 'forget-dedupe':
          this.ids.delete(c.id);
          break;
        case 'forget-version':
          this.deleteVersion(objectKeyString(c.key));
          break;
      }
    }
  }

  /**
   * Up to `max` forget changes for entries expired at `now` (oldest first). Pure with respect to the
   * store: the changes take effect through apply() once committed. (Entries restored already expired sit
   * wherever the changelog put them and are swept once the entries before them expire; lookups ignore
   * them meanwhile.)
   */
  expired(now: number, max: number): StateChange[] {
    const out: StateChange[] = [];
    for (const [id, expiresAt] of this.ids) {
      if (out.length >= max || expiresAt > now) break;
      out.push({ kind: 'forget-dedupe', id });
    }
    for (const v of this.versions.values()) {
      if (out.length >= max || v.expiresAt > now) break;
      out.push({ kind: 'forget-version', key: v.key });
    }
    return out;
  }

  counts(): StoreCounts {
    return {
      dedupe: this.ids.size,
      version: this.versions.size - this.tombstones,
      tombstone: this.tombstones,
    };
  }
}
