/**
 * Failed rounds on the real broker (issue 13, items 0 and 1; processors/poison/ and processor.ts):
 *
 * - A partition that has never committed restarts a failed round at its first offset, never at the
 *   consumer's fetch position (which is past the round): every record is accounted for, once.
 * - A round that keeps failing for a reason no stage can blame on one record is bisected after
 *   PROCESSOR_POISON_ATTEMPTS, and the record that fails alone is dead-lettered (POISON_ISOLATED,
 *   re-drivable) while every other record, of its own grant too, is emitted exactly once.
 *
 * The failure is injected in the normalize stage as a *retriable* NylasStreamError, the one kind of
 * stage error the pipeline still hands to the caller (it cannot tell it from a passing fault), so these
 * tests exercise the processor's own bookkeeping and not the stages' attribution.
 */
import type { TopicsConfig } from '../../../lib/config';
import { ErrorCodes, TransientError } from '../../../lib/errors';
import { normalize } from '../../../processors/stages/normalize';
import type { DomainEvent, Notification } from '../../../processors/types';
import { headerString, pollUntil, type TopicCollector } from '../../helpers/kafka';
import { ProcessorHarness } from '../../helpers/processor-harness';
import { messageNotification, rawMessage } from '../../helpers/raw-notifications';

const ids = (records: TopicCollector['records']) =>
  records.map((r) => headerString(r.headers, 'nylas-notification-id'));

function failing(shouldFail: (n: Notification) => boolean) {
  let failures = 0;
  const wrapped = (n: Notification, topics: TopicsConfig): DomainEvent => {
    if (shouldFail(n)) {
      failures++;
      throw new TransientError(ErrorCodes.NORMALIZE_FAILED, `injected failure for ${n.envelope.id}`);
    }
    return normalize(n, topics);
  };
  return { normalize: wrapped, failures: () => failures };
}

describe('processor: a failed first round on partitions that never committed', () => {
  const h = new ProcessorHarness({ partitions: 3, grants: 3 });

  beforeAll(() => h.setUp(), 120_000);
  afterAll(() => h.tearDown());

  it('starts again at the first offset: nothing skipped, nothing doubled', async () => {
    // One record per grant, several grants: each is the first record of its partition.
    const grants = ['g-first-a', 'g-first-b', 'g-first-c', 'g-first-d', 'g-first-e', 'g-first-f'];
    await h.produce(
      grants.map((g) =>
        rawMessage({ grantId: g, body: messageNotification(g, { id: `first-${g}`, messageId: `m-${g}` }) }),
      ),
    );
    // Every notification fails the first time it is normalized: the first round of each partition fails.
    const seen = new Set<string>();
    const inject = failing((n) => {
      if (seen.has(n.envelope.id)) return false;
      seen.add(n.envelope.id);
      return true;
    });
    const out = await h.collect([h.topics.emailMessages, h.topics.dlq]);
    await h.startProcessor({ PROCESSOR_RETRY_BACKOFF_BASE: '50ms' }, { normalize: inject.normalize });
    const expected = grants.map((g) => `first-${g}`).sort();
    await pollUntil(() => ids(out.records).length >= expected.length, {
      timeoutMs: 60_000,
      description: 'every first record emitted after its failed round',
    });
    // Nothing more arrives later (no duplicate from a second pass).
    await new Promise((r) => setTimeout(r, 1500));
    expect(inject.failures()).toBe(grants.length);
    expect(out.records.filter((r) => r.topic === h.topics.dlq)).toEqual([]);
    expect(ids(out.records).sort()).toEqual(expected);
  });
});

describe('processor: a round failing while fetching is paused for backpressure', () => {
  const h = new ProcessorHarness({ partitions: 1, grants: 1 });

  beforeAll(() => h.setUp(), 120_000);
  afterAll(() => h.tearDown());

  it('does not leave the partition paused after the takeover (every record emitted)', async () => {
    const total = 50;
    await h.produce(
      Array.from({ length: total }, (_, i) =>
        rawMessage({
          grantId: 'g-bp',
          body: messageNotification('g-bp', { id: `bp-${i}`, messageId: `m-${i}` }),
        }),
      ),
    );
    // The queue bound is far below one fetch, so fetching is paused when the first round fails.
    let failed = false;
    const inject = failing((n) => {
      if (failed || n.envelope.id !== 'bp-3') return false;
      failed = true;
      return true;
    });
    const out = await h.collect([h.topics.emailMessages]);
    await h.startProcessor(
      { PROCESSOR_MAX_QUEUED_RECORDS: '2', PROCESSOR_RETRY_BACKOFF_BASE: '50ms' },
      { normalize: inject.normalize },
    );
    await pollUntil(() => out.records.length >= total, {
      timeoutMs: 60_000,
      description: 'every record emitted after the failed round',
    });
    expect(inject.failures()).toBe(1);
    expect(new Set(ids(out.records)).size).toBe(total);
  });
});

describe('processor: a record that fails every round of its partition', () => {
  const h = new ProcessorHarness({ partitions: 1, grants: 3 });

  beforeAll(() => h.setUp(), 120_000);
  afterAll(() => h.tearDown());

  it('is isolated by bisection and dead-lettered; every other record is emitted once', async () => {
    const grants = ['g-p1', 'g-p2', 'g-p3'];
    const total = 200;
    const poisonIndex = 137;
    const poisonGrant = grants[poisonIndex % grants.length] as string;
    const notificationId = (i: number) => `n-${i}`;
    await h.produce(
      Array.from({ length: total }, (_, i) => {
        const g = grants[i % grants.length] as string;
        return rawMessage({
          grantId: g,
          body: messageNotification(g, { id: notificationId(i), messageId: `m-${i}` }),
        });
      }),
    );
    const poisonId = notificationId(poisonIndex);
    const inject = failing((n) => n.envelope.id === poisonId);
    const out = await h.collect([h.topics.emailMessages, h.topics.dlq]);
    const started = Date.now();
    await h.startProcessor(
      { PROCESSOR_POISON_ATTEMPTS: '3', PROCESSOR_RETRY_BACKOFF_BASE: '100ms' },
      { normalize: inject.normalize },
    );
    const dlq = await pollUntil(() => out.records.find((r) => r.topic === h.topics.dlq), {
      timeoutMs: 90_000,
      description: 'the poison record in the DLQ',
    });
    const isolatedAfterMs = Date.now() - started;
    await pollUntil(() => out.records.filter((r) => r.topic === h.topics.emailMessages).length >= total - 1, {
      timeoutMs: 60_000,
      description: 'every other record emitted',
    });
    console.log(
      `poison isolated ${isolatedAfterMs} ms after the processor started (${inject.failures()} failed rounds ` +
        `over ${total} records, PROCESSOR_POISON_ATTEMPTS=3, backoff from 100 ms)`,
    );

    expect(headerString(dlq.headers, 'nylas-notification-id')).toBe(poisonId);
    expect(headerString(dlq.headers, 'dlq-reason')).toBe('POISON_ISOLATED');
    expect(headerString(dlq.headers, 'dlq-redrivable')).toBe('true');
    expect(headerString(dlq.headers, 'dlq-stage')).toBe('isolation');
    const emitted = ids(out.records.filter((r) => r.topic === h.topics.emailMessages));
    expect(emitted.length).toBe(new Set(emitted).size);
    const expected = Array.from({ length: total }, (_, i) => notificationId(i)).filter(
      (id) => id !== poisonId,
    );
    expect([...emitted].sort()).toEqual([...expected].sort());
    // The poison's own grant went on past it.
    expect(emitted).toContain(notificationId(poisonIndex + grants.length));
    expect(poisonGrant).toBeDefined();
    // Bounded: 3 whole-round attempts, then about log2(200) narrowing steps, not one per record.
    expect(inject.failures()).toBeLessThanOrEqual(3 + 10);
  });
});

describe('processor: a stalled partition is visible', () => {
  const h = new ProcessorHarness({ partitions: 2, grants: 2 });

  beforeAll(() => h.setUp(), 120_000);
  afterAll(() => h.tearDown());

  async function scrape(url: string): Promise<Map<string, number>> {
    const text = await (await fetch(`${url}/metrics`)).text();
    const out = new Map<string, number>();
    for (const line of text.split('\n')) {
      // "name{labels} value" → "name{partition}" (other labels, such as service, left out)
      const m =
        /^(nylas_stream_processor_(?:consumer_lag|partition_stalled_seconds))\{.*partition="(\d+)".*\} (\S+)$/.exec(
          line,
        );
      if (m) out.set(`${m[1]}{partition="${m[2]}"}`, Number(m[3]));
    }
    return out;
  }

  it('in the lag and stall gauges and in /healthz, while the other partition flows', async () => {
    // A record that fails every round, with isolation far away: its partition stalls behind it.
    const inject = failing((n) => n.envelope.id === 'stuck');
    const running = await h.startProcessor(
      {
        PROCESSOR_POISON_ATTEMPTS: '100',
        PROCESSOR_RETRY_BACKOFF_BASE: '200ms',
        PROCESSOR_RETRY_BACKOFF_MAX: '500ms',
        PROCESSOR_LAG_INTERVAL: '200ms',
        PROCESSOR_STALL_TIMEOUT: '3s',
      },
      { normalize: inject.normalize, http: true },
    );
    const url = running.url as string;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // Partitions chosen explicitly: the stuck grant on 0, another grant on 1.
    const stuckPartition = 0;
    const on = (partition: number, grantId: string, id: string) => ({
      ...rawMessage({ grantId, body: messageNotification(grantId, { id, messageId: `m-${id}` }) }),
      partition,
    });
    await h.produce([
      on(0, 'g-stuck', 'stuck'),
      ...[1, 2, 3, 4].map((i) => on(0, 'g-stuck', `behind-${i}`)),
      on(1, 'g-other', 'flows'),
    ]);
    const out = await h.collect([h.topics.emailMessages]);
    await pollUntil(() => ids(out.records).includes('flows'), { description: 'the other partition flowing' });
    const lagKey = `nylas_stream_processor_consumer_lag{partition="${stuckPartition}"}`;
    const stallKey = `nylas_stream_processor_partition_stalled_seconds{partition="${stuckPartition}"}`;
    const seen = await pollUntil(
      async () => {
        const m = await scrape(url);
        return (m.get(stallKey) ?? 0) >= 3 ? m : undefined;
      },
      { timeoutMs: 30_000, description: 'the stall gauge passing 3 s' },
    );
    expect(seen.get(lagKey)).toBe(5);
    const healthz = await fetch(`${url}/healthz`);
    expect(healthz.status).toBe(503);
    expect(await healthz.text()).toMatch(/stalled/);
    console.log(
      `forced stall: ${lagKey} ${seen.get(lagKey)}, ${stallKey} ${seen.get(stallKey)}, /healthz 503`,
    );
    // The stuck partition emitted nothing behind its poison record; the other one is caught up.
    expect(ids(out.records)).toEqual(['flows']);
  });
});
