/**
 * Where the partitions' state stores live on disk, and which are open. Like Kafka Streams' state
 * directory: `PROCESSOR_STATE_DIR/<group>/<raw topic>-<partition>/`, one LMDB environment each, so a
 * partition's store can be opened, closed or rebuilt without touching the others, and a partition that
 * comes back to the same disk restores only the changelog tail past its checkpoint.
 *
 * A store stays open while its partition is assigned; it is closed when the partition is revoked (its
 * files stay for a later return). Opening waits for a close still in progress, so a partition revoked and
 * given back at once never has two handles on one environment.
 */
import { join } from 'node:path';
import type { Logger } from '../../lib/logger';
import { PartitionStore, removeStore } from './store';

export interface StoreRegistryOptions {
  /** PROCESSOR_STATE_DIR. */
  dir: string;
  groupId: string;
  /** The raw topic. */
  topic: string;
  windowMs: number;
  cacheEntries: number;
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

export function partitionStorePath(dir: string, groupId: string, topic: string, partition: number): string {
  return join(dir, safeSegment(groupId), `${safeSegment(topic)}-${partition}`);
}

export class StoreRegistry {
  private readonly open = new Map<number, PartitionStore>();
  private readonly closing = new Map<number, Promise<void>>();

  constructor(private readonly o: StoreRegistryOptions) {}

  pathOf(partition: number): string {
    return partitionStorePath(this.o.dir, this.o.groupId, this.o.topic, partition);
  }

  /** The partition's store, opened if it is not. A store that cannot be opened (a damaged file) is
   * removed and created empty: the restore then rebuilds it from the changelog. */
  async get(partition: number): Promise<PartitionStore> {
    await this.closing.get(partition);
    const existing = this.open.get(partition);
    if (existing !== undefined) return existing;
    const options = {
      partition,
      path: this.pathOf(partition),
      windowMs: this.o.windowMs,
      cacheEntries: this.o.cacheEntries,
      ...(this.o.now ? { now: this.o.now } : {}),
    };
    let store: PartitionStore;
    try {
      store = PartitionStore.open(options);
    } catch (err) {
      this.o.logger.error(
        { err, partition, path: options.path },
        'state store could not be opened; removing it (it is restored from the changelog)',
      );
      removeStore(options.path);
      store = PartitionStore.open(options);
    }
    this.open.set(partition, store);
    return store;
  }

  /** Closes the partition's store if open (revoked; its files stay). */
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

  async closeAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((p) => this.close(p)));
    await Promise.all(this.closing.values());
  }

  /** Bytes on disk of the open stores. */
  diskBytes(): number {
    let total = 0;
    for (const s of this.open.values()) total += s.diskBytes();
    return total;
  }
}
