/**
 * Where the processor's state lives on disk, and which partition stores are open. Like Kafka Streams'
 * state directory: `PROCESSOR_STATE_DIR/<group>/<raw topic>/`, one RocksDB database (engine.ts) holding
 * every partition's store in a key range of its own, so memory is bounded once per processor however
 * many partitions it owns, and a partition that comes back to the same disk restores only the changelog
 * tail past its checkpoint.
 *
 * The database opens with the first store and closes with the last one (closeAll, at stop). A store is
 * closed when its partition is revoked (its entries stay for a later return). Opening waits for a close
 * still in progress, so a partition revoked and given back at once never has two live stores.
 */
import { join } from 'node:path';
import type { Logger } from '../../lib/logger';
import { StateEngine } from './engine';
import { FilterBudget } from './segment-filter';
import { PartitionStore } from './store';

export interface StoreRegistryOptions {
  /** PROCESSOR_STATE_DIR. */
  dir: string;
  groupId: string;
  /** The raw topic. */
  topic: string;
  windowMs: number;
  cacheEntries: number;
  /** PROCESSOR_STATE_FILTER_BYTES: one budget for the filters of every partition's store. */
  filterBytes: number;
  logger: Logger;
  now?: () => number;
}

/** A path segment made of a group id or topic name (Kafka allows `.`, `_`, `-` and alphanumerics in
 * topics; group ids may hold anything). */
function safeSegment(s: string): string {
  const escaped = s.replace(/[^A-Za-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  // '', '.' and '..' would name the state directory itself or its parent: another group's stores, or
  // none at all. '%' alone and '%2e' are no other id's escape ('%' itself is escaped as '%25').
  if (escaped === '') return '%';
  return escaped === '.' || escaped === '..' ? escaped.replaceAll('.', '%2e') : escaped;
}

/** The processor's database: one per state directory, consumer group and raw topic. */
export function stateDatabasePath(dir: string, groupId: string, topic: string): string {
  return join(dir, safeSegment(groupId), safeSegment(topic));
}

export class StoreRegistry {
  private readonly open = new Map<number, PartitionStore>();
  private readonly closing = new Map<number, Promise<void>>();
  private engine: Promise<StateEngine> | undefined;
  /** The database once open (diskBytes is read synchronously by a gauge). */
  private opened: StateEngine | undefined;
  private readonly filterBudget: FilterBudget;

  constructor(private readonly o: StoreRegistryOptions) {
    this.filterBudget = new FilterBudget(o.filterBytes);
  }

  /** Memory the state stores' segment filters hold, all partitions together. */
  filterBytes(): number {
    return this.filterBudget.usedBytes;
  }

  get path(): string {
    return stateDatabasePath(this.o.dir, this.o.groupId, this.o.topic);
  }

  /** The database, opened on first use (engine.ts: a damaged one is removed and created empty, and the
   * restore then rebuilds every store from the changelog). */
  private database(): Promise<StateEngine> {
    if (this.engine === undefined) {
      const opening = StateEngine.open(this.path, this.o.logger);
      // A failed open is tried again by the next takeover, not remembered.
      opening.then(
        (engine) => {
          this.opened = engine;
        },
        () => {
          if (this.engine === opening) this.engine = undefined;
        },
      );
      this.engine = opening;
    }
    return this.engine;
  }

  /** The partition's store, opened if it is not. */
  async get(partition: number): Promise<PartitionStore> {
    await this.closing.get(partition);
    const existing = this.open.get(partition);
    if (existing !== undefined) return existing;
    const store = await PartitionStore.open({
      partition,
      engine: await this.database(),
      windowMs: this.o.windowMs,
      cacheEntries: this.o.cacheEntries,
      filterBudget: this.filterBudget,
      ...(this.o.now ? { now: this.o.now } : {}),
    });
    // Another get of the same partition may have finished first while this one waited.
    const raced = this.open.get(partition);
    if (raced !== undefined) return raced;
    this.open.set(partition, store);
    return store;
  }

  /** Closes the partition's store if open (revoked; its entries stay). */
  close(partition: number): Promise<void> {
    const store = this.open.get(partition);
    if (store === undefined) return this.closing.get(partition) ?? Promise.resolve();
    this.open.delete(partition);
    const closed = store
      .close()
      .catch((err: unknown) => this.o.logger.warn({ err, partition }, 'closing a state store'))
      .finally(() => this.closing.delete(partition));
    this.closing.set(partition, closed);
    return closed;
  }

  /** Closes every store, then the database (stop). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((p) => this.close(p)));
    await Promise.all(this.closing.values());
    const engine = this.engine;
    this.engine = undefined;
    this.opened = undefined;
    if (engine) await (await engine).close();
  }

  /** Bytes the database takes on disk (every partition's store). */
  diskBytes(): number {
    return this.opened?.diskBytes() ?? 0;
  }
}
