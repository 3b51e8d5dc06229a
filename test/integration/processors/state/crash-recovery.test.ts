/**
 * `kill -9` of the real processor process between a transaction's commit and its store's apply: the
 * changelog holds the transaction's state changes, the store on disk does not. A restart on the same
 * disk restores the changelog tail past the stale checkpoint, so nothing is emitted twice, no older
 * version follows a newer one, and the notifications of the lost apply are still duplicates.
 *
 * The kill point is exact, not hoped for: test/helpers/kill-in-store-apply.js (a `node -r` preload, no
 * hook in production code) SIGKILLs the child inside the Nth PartitionStore.apply called by a round
 * (processors/partition.ts calls it only after the commit), before the store writes anything, and writes
 * a marker first. The test checks the marker's round committed (its changelog records are read_committed)
 * and the store on disk lacks it (old checkpoint, ids unseen).
 */
import { changesFromRecord } from '../../../../processors/state/changelog';
import { pollUntil } from '../../../helpers/kafka';
import { exited, processorChildren, readKillMarker, takeovers } from '../../../helpers/processor-child';
import { ProcessorHarness } from '../../../helpers/processor-harness';
import {
  allEmitted,
  barriers,
  expectCleanOutput,
  expectNothingButBarriers,
  grantsOver,
  mixedWorkload,
  redelivery,
  runWorkload,
  staleUpdate,
} from '../../../helpers/state-workload';

const PARTITIONS = 2;
const { grants: GRANTS, partitionOf } = grantsOver(6, PARTITIONS);
/** Which round apply dies: the third, so the first rounds' state is on disk and later ones build on it. */
const KILL_AT = 3;

describe('processor state: kill -9 between the commit and the store apply', () => {
  const h = new ProcessorHarness({ partitions: PARTITIONS });
  const children = processorChildren(h, 'state-crash');

  it('restores the lost apply from the changelog tail: no double, no regression, old ids stay duplicates', async () => {
    const out = children.out();
    const changelog = await h.collect([h.topics.state], 'read_committed');
    const w = mixedWorkload('crash', GRANTS, 6, partitionOf);
    const first = children.start('first', { at: KILL_AT, caller: 'partition' });
    const died = exited(first);
    let dead = false;
    died.then(() => {
      dead = true;
    });
    // Rounds follow the steps, so the kill lands in a round whose state later steps depend on
    // (redeliveries, newer versions); the steps left when it dies are sent all the same.
    await runWorkload(h, out, w, () => dead);
    await pollUntil(() => dead, { timeoutMs: 30_000, description: 'the child killed inside a round apply' });
    expect(await died).toEqual({ code: null, signal: 'SIGKILL' });

    // The kill landed between the commit and the apply of a round of partition `m.partition`.
    const m = readKillMarker(children.marker);
    expect(m).toMatchObject({ pid: first.pid, caller: 'partition' });
    const lostEmitted = m.dedupeIds.filter((id) => w.emitted.has(id));
    expect(lostEmitted.length).toBeGreaterThan(0);
    // It committed: its changelog records are read_committed. (Its domain events may still be held
    // back from read_committed readers: the other partition's transaction, open at the kill, can hold
    // records on the same output partition until the restart fences it.)
    await pollUntil(
      () => {
        const committed = new Set(
          changelog.records
            .filter((r) => r.partition === m.partition)
            .flatMap((r) => changesFromRecord(m.partition, r.key, r.value))
            .flatMap((c) => (c.kind === 'dedupe' ? [c.id] : [])),
        );
        return m.dedupeIds.every((id) => committed.has(id));
      },
      { description: "the killed round's changelog records, read_committed" },
    );
    const { store, close } = await h.openStore(children.stateDir, m.partition);
    try {
      expect(store.checkpoint?.offset.toString() ?? null).toBe(m.storeCheckpoint);
      expect(BigInt(m.checkpoint)).toBeGreaterThan(BigInt(m.storeCheckpoint ?? '-1'));
      const now = Date.now();
      await store.prefetch(m.dedupeIds, []);
      expect(m.dedupeIds.filter((id) => store.seen(id, now))).toEqual([]);
    } finally {
      await close();
    }

    // Restart on the same disk; it takes both partitions over and drains what the first left.
    children.start('second');
    await pollUntil(() => allEmitted(out.records, w.emitted), {
      timeoutMs: 90_000,
      description: 'every distinct notification of the workload emitted',
    });
    const lines = takeovers(children.logFile('second')) ?? [];
    expect(Object.assign({}, ...lines.map((t) => t.modes))).toEqual({ 0: 'tail', 1: 'tail' });
    // The tail held at least the lost round's changelog records.
    expect(lines.reduce((n, t) => n + Number(t.records), 0)).toBeGreaterThanOrEqual(1);

    // Everything again that the lost apply held, and a sample of the rest: all duplicates. An older
    // update of every object: all stale (for the objects whose last state was the lost round's, only
    // the restored tail knows it).
    const lost = new Set(m.dedupeIds);
    const again = w.steps
      .flat()
      .filter((s, i) => s.attempt === 1 && (lost.has(s.id) || i % 5 === 0))
      .map(redelivery);
    expect(again.some((s) => lost.has(s.id))).toBe(true);
    const fence = barriers('crash', GRANTS, partitionOf);
    await expectNothingButBarriers(
      h,
      out,
      [...again, ...w.objects.map((o, i) => staleUpdate(o, `crash-stale-${i}`))],
      fence,
    );
    await expectCleanOutput(out, [...w.emitted, ...fence.map((s) => s.id)]);

    expect(await children.stop()).toBe(0);
  }, 180_000);
});
