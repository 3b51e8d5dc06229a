import type { Message } from 'kafkajs';
import {
  changelogMessages,
  changesFromRecord,
  resetMarkerKey,
  resetMarkerValue,
  statePartitionFor,
} from '../../../../processors/state/changelog';
import type { PartitionStore, StateChange } from '../../../../processors/state/store';
import { closeTestStores, openTestStore } from '../../../helpers/state-store';

const key = { grantId: 'g:1', objectType: 'message', objectId: 'm"1' };
let n = 0;
const ids = () => `bucket-${n++}`;

const buf = (m: Message) => ({
  key: Buffer.from(m.key as string),
  value: m.value === null || m.value === undefined ? null : Buffer.from(m.value as string),
});

/** What the restore does with each record of the partition, in log order. */
async function restore(store: PartitionStore, records: Message[]): Promise<void> {
  for (const m of records) {
    const b = buf(m);
    await store.apply(changesFromRecord(store.partition, b.key, b.value));
  }
}

afterAll(closeTestStores);

describe('state changelog', () => {
  it('writes a transaction’s ids and versions as one bucket, plus progress and bucket tombstones', () => {
    const changes: StateChange[] = [
      { kind: 'forget-bucket', id: 'old' },
      { kind: 'dedupe', id: 'n1', expiresAt: 500 },
      {
        kind: 'version',
        key,
        entry: { version: 1_723_821_985_000n, offset: '42', deleted: true },
        expiresAt: 500,
      },
      { kind: 'progress', progress: { next: '10', through: '20', unprocessed: ['10', '15'] } },
    ];
    const { messages, tracking } = changelogMessages(7, 3, changes, { bucketId: () => 'B' });
    expect(messages.map((m) => m.partition)).toEqual([3, 3, 3]);
    expect(messages.map((m) => m.key)).toEqual(['[7,"b","old"]', '[7,"p"]', '[7,"b","B"]']);
    expect(messages[0]?.value).toBeNull();
    expect(JSON.parse(messages[2]?.value as string)).toEqual({
      e: 500,
      d: ['n1'],
      v: [['g:1', 'message', 'm"1', '1723821985000', '42', 1]],
    });
    // The bucket's bookkeeping is its id and expiry only: its entries expire with their store segment.
    expect(tracking).toEqual([{ kind: 'bucket', id: 'B', expiresAt: 500 }]);
  });

  it('cuts buckets by size', () => {
    const changes: StateChange[] = Array.from({ length: 100 }, (_, i) => ({
      kind: 'dedupe' as const,
      id: `notification-${i}`,
      expiresAt: i,
    }));
    const { messages, tracking } = changelogMessages(0, 0, changes, { maxBucketBytes: 300, bucketId: ids });
    expect(messages.length).toBeGreaterThan(5);
    expect(messages.every((m) => (m.value as string).length < 400)).toBe(true);
    expect(tracking).toHaveLength(messages.length);
  });

  it('reads every change back (restore), ignores other partitions and garbage', () => {
    const changes: StateChange[] = [
      { kind: 'dedupe', id: 'n1', expiresAt: 123 },
      { kind: 'version', key, entry: { version: 5n, offset: '4', deleted: false }, expiresAt: 123 },
      { kind: 'progress', progress: null },
    ];
    const { messages } = changelogMessages(7, 3, changes, { bucketId: () => 'B' });
    const back = messages.flatMap((m) => {
      const b = buf(m);
      return changesFromRecord(7, b.key, b.value);
    });
    expect(back).toEqual([
      { kind: 'progress', progress: null },
      { kind: 'dedupe', id: 'n1', expiresAt: 123 },
      { kind: 'version', key, entry: { version: 5n, offset: '4', deleted: false }, expiresAt: 123 },
      { kind: 'bucket', id: 'B', expiresAt: 123 },
    ]);
    const b0 = buf(messages[1] as Message);
    expect(changesFromRecord(8, b0.key, b0.value)).toEqual([]);
    expect(changesFromRecord(7, Buffer.from('nope'), null)).toEqual([]);
    expect(changesFromRecord(7, null, null)).toEqual([]);
    expect(changesFromRecord(7, Buffer.from('[7,"b","x"]'), Buffer.from('{bad'))).toEqual([]);
  });

  // Changed on purpose (issue 15): a bucket tombstone no longer forgets the bucket's entries (the bucket
  // does not list them any more). It is written once they have expired, and the store drops them by time:
  // restored after B1 expired, its entries are not written at all.
  it('restoring the records in order rebuilds the store; a later write wins; expired entries are not kept', async () => {
    const store = await openTestStore(7, { now: () => 150 });
    const v = (version: bigint, deleted: boolean, expiresAt: number): StateChange => ({
      kind: 'version',
      key,
      entry: { version, offset: String(version), deleted },
      expiresAt,
    });
    await restore(store, [
      ...changelogMessages(7, 0, [{ kind: 'dedupe', id: 'a', expiresAt: 100 }, v(1n, false, 100)], {
        bucketId: () => 'B1',
      }).messages,
      ...changelogMessages(7, 0, [{ kind: 'dedupe', id: 'b', expiresAt: 200 }, v(2n, false, 200)], {
        bucketId: () => 'B2',
      }).messages,
      ...changelogMessages(7, 0, [v(3n, true, 300)], { bucketId: () => 'B3' }).messages,
      ...changelogMessages(7, 0, [{ kind: 'forget-bucket', id: 'B1' }]).messages,
    ]);
    store.dropCache();
    expect(await store.isSeen('a', 0)).toBe(false);
    expect(await store.isSeen('b', 150)).toBe(true);
    expect(await store.versionOf(JSON.stringify(['g:1', 'message', 'm"1']), 150)).toEqual({
      version: 3n,
      offset: '3',
      deleted: true,
    });
    // One object, its latest write a tombstone.
    expect(store.counts()).toEqual({ dedupe: 1, version: 0, tombstone: 1 });
    expect(store.bucketCount).toBe(2);
    expect(await store.expiredBuckets(250, 10)).toEqual([{ kind: 'forget-bucket', id: 'B2' }]);
  });

  it('maps input partitions onto the state topic', () => {
    expect(statePartitionFor(5, 12)).toBe(5);
    expect(statePartitionFor(13, 12)).toBe(1);
  });
});

describe('state changelog: replay --reset-state', () => {
  it('the reset marker [partition, "r"] reads back as a reset, and a reset change is written as the marker', () => {
    const marker = { key: resetMarkerKey(4), value: resetMarkerValue(1_000) };
    expect(marker.key).toBe('[4,"r"]');
    expect(changesFromRecord(4, Buffer.from(marker.key), Buffer.from(marker.value))).toEqual([
      { kind: 'reset' },
    ]);
    // Another partition's marker, and a marker's own tombstone (compaction of an older reset), change nothing.
    expect(changesFromRecord(5, Buffer.from(marker.key), Buffer.from(marker.value))).toEqual([]);
    expect(changesFromRecord(4, Buffer.from(marker.key), null)).toEqual([]);
    const { messages, tracking } = changelogMessages(4, 1, [{ kind: 'reset' }]);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ key: '[4,"r"]', partition: 1 });
    const b = buf(messages[0] as Message);
    expect(changesFromRecord(4, b.key, b.value)).toEqual([{ kind: 'reset' }]);
    expect(tracking).toEqual([]);
  });

  it('a restore forgets what came before the marker and keeps what was written after it', async () => {
    const store = await openTestStore(1);
    await restore(store, [
      ...changelogMessages(
        1,
        0,
        [
          { kind: 'dedupe', id: 'x', expiresAt: 10_000 },
          { kind: 'version', key, entry: { version: 1n, offset: '1', deleted: false }, expiresAt: 10_000 },
          { kind: 'progress', progress: { next: '3', through: '5', unprocessed: [] } },
        ],
        { bucketId: () => 'L1' },
      ).messages,
      // What replay --reset-state writes (cli/ops/state-reset.ts): a tombstone per live entry, then the marker.
      { key: '[1,"b","L1"]', value: null },
      { key: '[1,"p"]', value: null },
      { key: resetMarkerKey(1), value: resetMarkerValue() },
      ...changelogMessages(1, 0, [{ kind: 'dedupe', id: 'y', expiresAt: 10_000 }], { bucketId: () => 'L2' })
        .messages,
    ]);
    expect(await store.isSeen('x', 0)).toBe(false);
    expect(await store.versionOf(JSON.stringify(['g:1', 'message', 'm"1']), 0)).toBeUndefined();
    expect(await store.isSeen('y', 0)).toBe(true);
    expect(store.counts()).toEqual({ dedupe: 1, version: 0, tombstone: 0 });
    expect(store.bucketCount).toBe(1);
    expect(store.progress).toBeNull();
  });
});
