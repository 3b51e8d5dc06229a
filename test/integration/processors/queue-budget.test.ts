/**
 * The process-wide queue budget on the real broker (PROCESSOR_MAX_QUEUED_BYTES_TOTAL,
 * processors/queue-budget.ts): with a budget far below the backlog and every partition flooded, fetching
 * pauses and resumes for the budget again and again, every partition still reaches the end of its log,
 * every notification is emitted exactly once, and the drained process holds nothing against the budget.
 */
import { headerString, pollUntil, type TopicCollector, uniqueName } from '../../helpers/kafka';
import { ProcessorHarness } from '../../helpers/processor-harness';
import { messageNotification, rawMessage } from '../../helpers/raw-notifications';

const PARTITIONS = 4;
const PER_PARTITION = 1500;

describe('processor: the process-wide queue budget with every partition flooded', () => {
  const h = new ProcessorHarness({ partitions: PARTITIONS });
  let out: TopicCollector;

  beforeAll(async () => {
    await h.setUp();
    out = await h.collect([h.topics.emailMessages, h.topics.dlq]);
  }, 120_000);
  afterAll(() => h.tearDown());

  it('lets every partition make progress and loses nothing', async () => {
    const expected: string[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const grant = uniqueName(`g-budget-${p}`);
      const messages = Array.from({ length: PER_PARTITION }, (_, i) => {
        const id = `${grant}-${i}`;
        expected.push(id);
        return {
          ...rawMessage({ grantId: grant, body: messageNotification(grant, { id, messageId: `m-${i}` }) }),
          partition: p,
        };
      });
      for (let i = 0; i < messages.length; i += 500) await h.produce(messages.slice(i, i + 500));
    }
    // The smallest budget (1 MiB) holds a few hundred of these records; fetches are small, so the
    // partitions pause and resume for it many times over the drain.
    const running = await h.startProcessor({
      PROCESSOR_MAX_QUEUED_BYTES_TOTAL: String(1024 * 1024),
      PROCESSOR_MAX_BYTES_PER_PARTITION: String(64 * 1024),
    });

    await pollUntil(() => out.records.length >= expected.length, {
      timeoutMs: 180_000,
      description: 'every notification emitted',
    });
    const ends = await h.admin.fetchTopicOffsets(h.topics.raw);
    await pollUntil(
      async () => {
        const [committed] = await h.admin.fetchOffsets({ groupId: h.config.groupId, topics: [h.topics.raw] });
        return ends.every((e) => {
          const c = committed?.partitions.find((x) => x.partition === e.partition);
          return c !== undefined && BigInt(c.offset) >= BigInt(e.high);
        });
      },
      { timeoutMs: 60_000, description: 'every partition committed through its log end' },
    );
    const ids = out.records.map((r) => headerString(r.headers, 'nylas-notification-id'));
    expect(out.records.filter((r) => r.topic === h.topics.dlq)).toEqual([]);
    expect(ids.length).toBe(expected.length);
    expect(new Set(ids)).toEqual(new Set(expected));

    const pauses = (await running.metrics.fetchPauses.get()).values;
    const budgetPauses = pauses.find((v) => v.labels.reason === 'process_budget')?.value ?? 0;
    expect(budgetPauses).toBeGreaterThan(PARTITIONS);
    await pollUntil(async () => (await running.metrics.queuedBytes.get()).values[0]?.value === 0, {
      description: 'nothing queued once drained',
    });
  }, 300_000);
});
