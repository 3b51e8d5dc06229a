/**
 * A takeover by another instance, on another disk: processor B restores A's partitions from the state
 * changelog alone (a full restore into an empty directory) and then answers every question A's store
 * answered the same way: for every notification id A handled, "seen"; for every object, the same last
 * version and tombstone. Both stores are opened from disk after both processors stopped and compared
 * answer by answer; then B, restarted on its disk, is sent the old notifications again and older versions
 * of every object, and emits none of them.
 */
import type { RunningProcessor } from '../../../../processors/index';
import { pollUntil, type TopicCollector } from '../../../helpers/kafka';
import { newStateDir, ProcessorHarness } from '../../../helpers/processor-harness';
import {
  barriers,
  expectCleanOutput,
  expectNothingButBarriers,
  grantsOver,
  messageKey,
  mixedWorkload,
  redelivery,
  runWorkload,
  staleUpdate,
} from '../../../helpers/state-workload';

const PARTITIONS = 2;
const { grants: GRANTS, partitionOf } = grantsOver(6, PARTITIONS);

describe('processor state: a takeover by another instance', () => {
  const h = new ProcessorHarness({ partitions: PARTITIONS });
  let out: TopicCollector;

  beforeAll(async () => {
    await h.setUp();
    out = await h.collect([h.topics.emailMessages], 'read_committed');
  });

  afterAll(async () => {
    await h.tearDown();
  });

  /** nylas_stream_processor_state_restores_total by mode. */
  async function restores(running: RunningProcessor): Promise<Record<string, number>> {
    const m = await running.metrics.restores.get();
    return Object.fromEntries(m.values.map((v) => [String(v.labels.mode), v.value]));
  }

  it("B, restored from the changelog, answers as A's store did; old notifications stay duplicates, older versions stale", async () => {
    const w = mixedWorkload('to', GRANTS, 6, partitionOf);
    const aDir = newStateDir();
    const bDir = newStateDir();

    // A: the workload (creates, increasing updates, deletes, redeliveries), then older updates of every
    // object and redeliveries of a sample, which A must suppress (its store then holds their ids too).
    const a = await h.startProcessor({ PROCESSOR_STATE_DIR: aDir });
    await runWorkload(h, out, w);
    const sent = w.steps.flat().filter((s) => s.attempt === 1);
    const staleForA = w.objects.map((o, i) => staleUpdate(o, `to-stale-a-${i}`));
    const fenceA = barriers('to-a', GRANTS, partitionOf);
    await expectNothingButBarriers(
      h,
      out,
      [...sent.filter((_, i) => i % 4 === 0).map(redelivery), ...staleForA],
      fenceA,
    );
    await a.stop();

    // B on an empty disk takes both partitions: a full restore from the changelog. Then it stops, so
    // both stores can be read from disk.
    const b = await h.startProcessor({ PROCESSOR_STATE_DIR: bDir });
    await pollUntil(() => b.processor.ready && b.processor.activePartitions.length === PARTITIONS, {
      description: 'B took both partitions over',
    });
    expect(await restores(b)).toMatchObject({ full: PARTITIONS, tail: 0 });
    await b.stop();

    const handled = [...sent, ...staleForA, ...fenceA].map((s) => s.id);
    const neverSent = ['to-never-1', 'to-never-2'];
    const objects = [
      ...w.objects.map((o) => messageKey(o.grantId, o.messageId)),
      ...fenceA.map((s) => messageKey(s.grantId, s.messageId)),
      messageKey(GRANTS[0] ?? '', 'to-never'),
    ];
    for (let p = 0; p < PARTITIONS; p++) {
      const onA = await h.openStore(aDir, p);
      const onB = await h.openStore(bDir, p);
      try {
        const now = Date.now();
        const answers = async (s: typeof onA.store) => {
          await s.prefetch([...handled, ...neverSent], objects);
          return {
            seen: Object.fromEntries([...handled, ...neverSent].map((id) => [id, s.seen(id, now)])),
            versions: Object.fromEntries(objects.map((k) => [k, s.version(k, now) ?? null])),
            progress: s.progress,
            buckets: s.bucketCount,
          };
        };
        const fromA = await answers(onA.store);
        expect(await answers(onB.store)).toEqual(fromA);

        // …and A's answers are the ones the workload calls for (the comparison is not of two empty stores).
        const here = (x: { partition?: number }) => x.partition === p;
        expect([...sent, ...staleForA, ...fenceA].filter((s) => here(s) && !fromA.seen[s.id])).toEqual([]);
        expect(neverSent.filter((id) => fromA.seen[id])).toEqual([]);
        for (const o of w.objects.filter(here)) {
          expect({
            object: o.messageId,
            ...fromA.versions[messageKey(o.grantId, o.messageId)],
          }).toMatchObject({
            object: o.messageId,
            version: BigInt(o.last.time) * 1000n,
            deleted: o.last.action === 'deleted',
          });
        }
      } finally {
        await onA.close();
        await onB.close();
      }
    }
    const deleted = w.objects.filter((o) => o.last.action === 'deleted');
    expect(deleted.length).toBeGreaterThan(0);

    // B again on its disk (a tail restore): everything A handled, again, older versions of every object
    // under new ids, and updates of the deleted ones at the delete's version: nothing but the barriers.
    const b2 = await h.startProcessor({ PROCESSOR_STATE_DIR: bDir });
    await pollUntil(() => b2.processor.ready && b2.processor.activePartitions.length === PARTITIONS, {
      description: 'B (restarted) took both partitions over',
    });
    expect(await restores(b2)).toMatchObject({ full: 0, tail: PARTITIONS });
    const fenceB = barriers('to-b', GRANTS, partitionOf);
    await expectNothingButBarriers(
      h,
      out,
      [
        ...[...sent, ...staleForA, ...fenceA].map(redelivery),
        ...w.objects.map((o, i) => staleUpdate(o, `to-stale-b-${i}`)),
        ...deleted.map((o, i) => staleUpdate(o, `to-at-delete-${i}`, 0)),
      ],
      fenceB,
    );
    await expectCleanOutput(out, [...w.emitted, ...fenceA.map((s) => s.id), ...fenceB.map((s) => s.id)]);
    await b2.stop();
  }, 180_000);
});
