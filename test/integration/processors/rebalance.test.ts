/**
 * Two processor instances in one group, partitions moving between them: the instance that takes a
 * partition over fences the previous producer, restores the partition's state from the changelog and
 * resumes at the committed offset, so a redelivery of something the other instance emitted is still a
 * duplicate, a stale update is still stale, and nothing is emitted twice.
 */
import type { RunningProcessor } from '../../../processors/index';
import { headerString, pollUntil, type TopicCollector, uniqueName } from '../../helpers/kafka';
import { byNotification, decodeDomainEvent, ProcessorHarness } from '../../helpers/processor-harness';
import { messageNotification, RECENT_TIME, rawMessage } from '../../helpers/raw-notifications';

const PARTITIONS = 4;
const GRANTS = Array.from({ length: 12 }, (_, i) => uniqueName(`g${i}`));

describe('processor: two instances and rebalances', () => {
  const h = new ProcessorHarness({ partitions: PARTITIONS, env: { EXPANSION_DEFER_AFTER: '100ms' } });
  let messages: TopicCollector;
  let a: RunningProcessor;
  let b: RunningProcessor;

  beforeAll(async () => {
    await h.setUp();
    messages = await h.collect([h.topics.emailMessages]);
  });

  afterAll(async () => {
    await h.tearDown();
  });

  const id = (g: string, n: number) => `${g}-n${n}`;
  const update = (g: string, n: number, time: number, attempt = 1) =>
    rawMessage({
      grantId: g,
      body: messageNotification(g, {
        id: id(g, n),
        messageId: 'm',
        action: 'updated',
        time: RECENT_TIME + time,
        attempt,
      }),
    });

  async function waitForAll(n: number): Promise<void> {
    await pollUntil(() => GRANTS.every((g) => byNotification(messages.records, id(g, n)).length === 1), {
      description: `n${n} of every grant`,
    });
  }

  function partitionsOf(...running: RunningProcessor[]): number[] {
    return running.flatMap((r) => r.processor.activePartitions).sort((x, y) => x - y);
  }

  it('restores state on takeover: duplicates and stale updates stay suppressed, nothing is emitted twice', async () => {
    a = await h.startProcessor();
    await pollUntil(() => partitionsOf(a).length === PARTITIONS, { description: 'A owns every partition' });

    // Phase 1: A alone.
    await h.produce(GRANTS.flatMap((g) => [update(g, 1, 100), update(g, 2, 200)]));
    await waitForAll(2);

    // Phase 2: B joins; partitions move from A to B (B fences A's producers and restores their state).
    b = await h.startProcessor();
    await pollUntil(
      () =>
        a.processor.ready &&
        b.processor.ready &&
        b.processor.activePartitions.length > 0 &&
        a.processor.activePartitions.length > 0 &&
        partitionsOf(a, b).join() === [...Array(PARTITIONS).keys()].join(),
      { description: 'A and B share the partitions', timeoutMs: 60_000 },
    );
    const moved = b.processor.activePartitions;
    // A redelivery of n2 (same id, next attempt: an update of the same version, which only dedupe stops),
    // a stale update n3 and a newer one n4.
    await h.produce(GRANTS.flatMap((g) => [update(g, 2, 200, 2), update(g, 3, 150), update(g, 4, 300)]));
    await waitForAll(4);

    // Phase 3: A leaves; B takes everything.
    await a.stop();
    await pollUntil(() => b.processor.activePartitions.length === PARTITIONS && b.processor.ready, {
      description: 'B owns every partition',
      timeoutMs: 60_000,
    });
    await h.produce(GRANTS.flatMap((g) => [update(g, 4, 300, 2), update(g, 5, 250), update(g, 6, 400)]));
    await waitForAll(6);

    // Barrier: one more per grant, so everything before it is committed.
    await h.produce(GRANTS.map((g) => update(g, 7, 500)));
    await waitForAll(7);

    for (const g of GRANTS) {
      const events = messages.records.filter((r) => r.key?.toString() === g);
      expect(events.map((r) => headerString(r.headers, 'nylas-notification-id'))).toEqual([
        id(g, 1),
        id(g, 2),
        id(g, 4),
        id(g, 6),
        id(g, 7),
      ]);
    }
    const eventIds = (await Promise.all(messages.records.map(decodeDomainEvent))).map(
      (e) => e.value.event_id,
    );
    expect(new Set(eventIds).size).toBe(eventIds.length);

    // B restored state for the partitions it took over, and found entries there.
    const restores = await b.metrics.restoreSeconds.get();
    expect(restores.values.find((v) => v.metricName?.endsWith('_count'))?.value).toBeGreaterThanOrEqual(2);
    expect(moved.length).toBeGreaterThan(0);
    const dup = await b.metrics.notifications.get();
    expect(dup.values.find((v) => v.labels.outcome === 'duplicate')?.value).toBeGreaterThan(0);
    expect(dup.values.find((v) => v.labels.outcome === 'stale')?.value).toBeGreaterThan(0);
  });
});
