/**
 * `kill -9` of the real processor process in the middle of a full restore, then a restart on the same
 * disk: the restore resumes from the partial checkpoint (a tail restore of exactly the records not yet
 * applied) and completes, and then the store answers as the changelog says: what processor A handled and
 * what the changelog's older records hold are duplicates and stale, and nothing is emitted twice.
 *
 * The changelog: processor A's real records first, then FILLER_RECORDS bucket records in the processor's
 * own format (processors/state/changelog.ts changelogMessages), so a full restore takes a few seconds and
 * the kill lands in its middle. test/helpers/kill-in-store-apply.js SIGKILLs the child inside the Nth
 * PartitionStore.apply called by the restore, before that record is written.
 */
import type { Message } from 'kafkajs';
import { changelogMessages } from '../../../../processors/state/changelog';
import type { StateChange } from '../../../../processors/state/store';
import { pollUntil, uniqueName } from '../../../helpers/kafka';
import { exited, processorChildren, readKillMarker, takeovers } from '../../../helpers/processor-child';
import { ProcessorHarness } from '../../../helpers/processor-harness';
import { RECENT_TIME } from '../../../helpers/raw-notifications';
import {
  barriers,
  expectCleanOutput,
  expectNothingButBarriers,
  messageKey,
  mixedWorkload,
  redelivery,
  runWorkload,
  type Sent,
  staleUpdate,
} from '../../../helpers/state-workload';

const GRANTS = Array.from({ length: 4 }, (_, i) => uniqueName(`g${i}`));
const FILLER_GRANT = uniqueName('filler');
/** Changelog records after A's: a full restore of them takes seconds, not milliseconds. */
const FILLER_RECORDS = 1000;
const IDS_PER_RECORD = 100;
const OBJECTS_PER_RECORD = 10;
/** The filler objects' version: a message's version is its envelope time in ms. */
const FILLER_TIME = RECENT_TIME + 100;

const fillerId = (r: number, i: number) => `fill-${r}-${i}`;
const fillerObject = (r: number, i: number) => `fill-m${r}-${i}`;

describe('processor state: kill -9 during a restore', () => {
  const h = new ProcessorHarness({ partitions: 1 });
  const children = processorChildren(h, 'restore-crash');

  /** The filler's changelog records; returns their offsets in the state partition. */
  async function produceFiller(): Promise<bigint[]> {
    const expiresAt = Date.now() + h.config.dedupeWindowMs;
    const offsets: bigint[] = [];
    for (let r0 = 0; r0 < FILLER_RECORDS; r0 += 100) {
      const batch: Message[] = [];
      for (let r = r0; r < Math.min(FILLER_RECORDS, r0 + 100); r++) {
        const changes: StateChange[] = [];
        for (let i = 0; i < IDS_PER_RECORD; i++)
          changes.push({ kind: 'dedupe', id: fillerId(r, i), expiresAt });
        for (let i = 0; i < OBJECTS_PER_RECORD; i++) {
          changes.push({
            kind: 'version',
            key: { grantId: FILLER_GRANT, objectType: 'message', objectId: fillerObject(r, i) },
            entry: { version: BigInt(FILLER_TIME) * 1000n, offset: '0', deleted: false },
            expiresAt,
          });
        }
        const { messages } = changelogMessages(0, 0, changes, { bucketId: () => `fill-${r}` });
        expect(messages).toHaveLength(1);
        batch.push(...messages);
      }
      const [written] = await h.producer.send({ topic: h.topics.state, acks: -1, messages: batch });
      const base = BigInt(written?.baseOffset ?? '-1');
      for (let i = 0; i < batch.length; i++) offsets.push(base + BigInt(i));
    }
    return offsets;
  }

  it('resumes the interrupted restore from its partial checkpoint and answers as the changelog says', async () => {
    const out = children.out();
    // A handles a real workload and writes the first changelog records.
    const w = mixedWorkload('rc', GRANTS, 6);
    const a = await h.startProcessor();
    await runWorkload(h, out, w);
    await a.stop();
    const filler = await produceFiller();

    // B on an empty disk: a full restore, killed halfway through.
    // The restore applies a fetched batch (≤ 1 MiB, a few hundred of these records) per transaction: the
    // second one is well inside the filler.
    const first = children.start('first', { at: 2, caller: 'restore' });
    await pollUntil(() => first.exitCode !== null || first.signalCode !== null, {
      timeoutMs: 60_000,
      description: 'the child killed inside the restore',
    });
    expect(await exited(first)).toEqual({ code: null, signal: 'SIGKILL' });
    const m = readKillMarker(children.marker);
    expect(m).toMatchObject({ pid: first.pid, caller: 'restore', partition: 0 });
    // It died inside the filler, the batch from the partial checkpoint on not yet applied, those before it all.
    const cp = BigInt(m.storeCheckpoint ?? '-1');
    const killedAt = filler.indexOf(cp);
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(FILLER_RECORDS - 1);
    // The lost apply held a whole batch: from the record at the partial checkpoint to a later one.
    expect(filler.indexOf(BigInt(m.checkpoint) - 1n)).toBeGreaterThanOrEqual(killedAt);
    expect(m.dedupeIds).toContain(fillerId(killedAt, 0));
    const { store: partial, close } = await h.openStore(children.stateDir, 0);
    try {
      expect(partial.checkpoint?.offset).toBe(cp);
      const now = Date.now();
      const probed = [0, killedAt - 1, killedAt, FILLER_RECORDS - 1];
      await partial.prefetch([...probed.map((r) => fillerId(r, 0)), ...w.emitted], []);
      expect(probed.map((r) => partial.seen(fillerId(r, 0), now))).toEqual([true, true, false, false]);
      expect([...w.emitted].filter((id) => !partial.seen(id, now))).toEqual([]);
    } finally {
      await close();
    }

    // Restarted on the same disk: a tail restore of exactly the records not applied yet.
    children.start('second');
    const [takeover] = await pollUntil(() => takeovers(children.logFile('second')), {
      timeoutMs: 60_000,
      description: 'the restarted processor took the partition over',
    });
    expect(takeover).toMatchObject({ modes: { 0: 'tail' }, records: FILLER_RECORDS - killedAt });

    // Everything A handled, again: duplicates; older updates of A's objects: stale. Filler ids from
    // before, at and after the kill point as new notifications: duplicates; older updates of filler
    // objects: stale.
    const probeRecords = [0, killedAt - 1, killedAt, killedAt + 1, FILLER_RECORDS - 1];
    const probes: Sent[] = probeRecords.flatMap((r) => [
      {
        id: fillerId(r, IDS_PER_RECORD - 1),
        grantId: FILLER_GRANT,
        messageId: `probe-${r}`,
        action: 'created',
        time: FILLER_TIME + 100,
        attempt: 1,
      },
      {
        id: `fill-stale-${r}`,
        grantId: FILLER_GRANT,
        messageId: fillerObject(r, OBJECTS_PER_RECORD - 1),
        action: 'updated',
        time: FILLER_TIME - 50,
        attempt: 1,
      },
    ]);
    const fence = barriers('rc', [...GRANTS, FILLER_GRANT]);
    await expectNothingButBarriers(
      h,
      out,
      [
        ...w.steps
          .flat()
          .filter((s) => s.attempt === 1)
          .map(redelivery),
        ...w.objects.map((o, i) => staleUpdate(o, `rc-stale-${i}`)),
        ...probes,
      ],
      fence,
    );
    await expectCleanOutput(out, [...w.emitted, ...fence.map((s) => s.id)]);

    expect(await children.stop()).toBe(0);
    // The store the restarted processor left: the filler objects' versions as the changelog wrote them.
    const restored = await h.openStore(children.stateDir, 0);
    try {
      const keys = probeRecords.map((r) => messageKey(FILLER_GRANT, fillerObject(r, 0)));
      const now = Date.now();
      await restored.store.prefetch([], keys);
      expect(keys.map((k) => restored.store.version(k, now)?.version)).toEqual(
        probeRecords.map(() => BigInt(FILLER_TIME) * 1000n),
      );
    } finally {
      await restored.close();
    }
  }, 180_000);
});
