import type { Message } from 'kafkajs';
import {
  applyChangelogRecord,
  changelogMessages,
  changesFromRecord,
  statePartitionFor,
} from '../../../../processors/state/changelog';
import { PartitionStore, type StateChange } from '../../../../processors/state/store';

const key = { grantId: 'g:1', objectType: 'message', objectId: 'm"1' };
let n = 0;
const ids = () => `bucket-${n++}`;

const buf = (m: Message) => ({
  key: Buffer.from(m.key as string),
  value: m.value === null || m.value === undefined ? null : Buffer.from(m.value as string),
});

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
    expect(tracking).toEqual([{ kind: 'bucket', id: 'B', expiresAt: 500, ids: ['n1'], versionKeys: [key] }]);
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
      { kind: 'bucket', id: 'B', expiresAt: 123, ids: ['n1'], versionKeys: [key] },
    ]);
    const b0 = buf(messages[1] as Message);
    expect(changesFromRecord(8, b0.key, b0.value)).toEqual([]);
    expect(changesFromRecord(7, Buffer.from('nope'), null)).toEqual([]);
    expect(changesFromRecord(7, null, null)).toEqual([]);
    expect(changesFromRecord(7, Buffer.from('[7,"b","x"]'), Buffer.from('{bad'))).toEqual([]);
  });

  it('restoring the records in order rebuilds the store; a later write wins; a tombstoned bucket is forgotten', () => {
    const store = new PartitionStore(7);
    const records: Message[] = [
      ...changelogMessages(
        7,
        0,
        [
          { kind: 'dedupe', id: 'a', expiresAt: 100 },
          { kind: 'version', key, entry: { version: 1n, offset: '1', deleted: false }, expiresAt: 100 },
        ],
        { bucketId: () => 'B1' },
      ).messages,
      ...changelogMessages(
        7,
        0,
        [{ kind: 'version', key, entry: { version: 2n, offset: '2', deleted: true }, expiresAt: 200 }],
        { bucketId: () => 'B2' },
      ).messages,
      ...changelogMessages(7, 0, [{ kind: 'forget-bucket', id: 'B1' }]).messages,
    ];
    for (const m of records) {
      const b = buf(m);
      applyChangelogRecord(store, b.key, b.value);
    }
    // B1 is tombstoned: 'a' is forgotten; the version B2 wrote again stays.
    expect(store.seen('a', 0)).toBe(false);
    expect(store.version(JSON.stringify(['g:1', 'message', 'm"1']), 150)).toEqual({
      version: 2n,
      offset: '2',
      deleted: true,
    });
    expect(store.bucketCount).toBe(1);
    expect(store.expiredBuckets(300, 10)).toEqual([{ kind: 'forget-bucket', id: 'B2' }]);
  });

  it('maps input partitions onto the state topic', () => {
    expect(statePartitionFor(5, 12)).toBe(5);
    expect(statePartitionFor(13, 12)).toBe(1);
  });
});

describe('state changelog: replay --reset-state', () => {
  it('forgets everything once every live bucket of the partition is tombstoned, before compaction', () => {
    const store = new PartitionStore(1);
    const records: Message[] = [
      ...changelogMessages(
        1,
        0,
        [
          { kind: 'dedupe', id: 'x', expiresAt: 10_000 },
          { kind: 'version', key, entry: { version: 1n, offset: '1', deleted: false }, expiresAt: 10_000 },
        ],
        { bucketId: () => 'L1' },
      ).messages,
      { key: '[1,"b","L1"]', value: null },
    ];
    for (const m of records) {
      const b = buf(m);
      applyChangelogRecord(store, b.key, b.value);
    }
    expect(store.counts()).toEqual({ dedupe: 0, version: 0, tombstone: 0 });
  });
});
