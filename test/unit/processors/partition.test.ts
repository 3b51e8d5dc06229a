import type { Message, Producer } from 'kafkajs';
import { loadTopicsConfig } from '../../../lib/config';
import { createLogger, type Logger, silentLogger } from '../../../lib/logger';
import { createMetricsRegistry } from '../../../lib/metrics';
import { ProcessorMetrics } from '../../../processors/metrics';
import { chunksOf, PartitionWorker, queuedBytesOf } from '../../../processors/partition';
import { Pipeline } from '../../../processors/pipeline';
import { QueueBudget } from '../../../processors/queue-budget';
import type { ExpandOutcome } from '../../../processors/stages/expand';
import { normalize } from '../../../processors/stages/normalize';
import { DomainEventEncoder } from '../../../processors/stages/publish';
import type { RawRecord } from '../../../processors/types';
import { pollUntil } from '../../helpers/kafka';
import { messageNotification, RECENT_TIME, rawRecord } from '../../helpers/raw-notifications';
import { closeTestStores, openTestStore } from '../../helpers/state-store';

const topics = loadTopicsConfig({});

interface Txn {
  messages: Record<string, Message[]>;
  offset: string | undefined;
  outcome: 'committed' | 'aborted' | 'open';
}

function fakeProducer(failCommits = 0, commitDelayMs = 0) {
  const txns: Txn[] = [];
  let failures = failCommits;
  // Log end offset per topic, as the broker would assign (the worker's checkpoint comes from baseOffset).
  const ends = new Map<string, number>();
  const producer = {
    transaction: async () => {
      const t: Txn = { messages: {}, offset: undefined, outcome: 'open' };
      txns.push(t);
      return {
        sendBatch: async ({
          topicMessages,
        }: {
          topicMessages: Array<{ topic: string; messages: Message[] }>;
        }) =>
          topicMessages.map((tm) => {
            const list = t.messages[tm.topic] ?? [];
            list.push(...tm.messages);
            t.messages[tm.topic] = list;
            const baseOffset = ends.get(tm.topic) ?? 0;
            ends.set(tm.topic, baseOffset + tm.messages.length);
            return { topicName: tm.topic, partition: 2, errorCode: 0, baseOffset: String(baseOffset) };
          }),
        sendOffsets: async ({ topics: ts }: { topics: Array<{ partitions: Array<{ offset: string }> }> }) => {
          t.offset = ts[0]?.partitions[0]?.offset;
        },
        commit: async () => {
          if (commitDelayMs > 0) await new Promise((r) => setTimeout(r, commitDelayMs));
          if (failures-- > 0) throw Object.assign(new Error('broker says no'), { type: 'NOT_COORDINATOR' });
          t.outcome = 'committed';
        },
        abort: async () => {
          t.outcome = 'aborted';
        },
        isActive: () => t.outcome === 'open',
      };
    },
  };
  return { producer: producer as unknown as Producer, txns };
}

async function setup(
  opts: {
    expand?: (grant: string) => Promise<ExpandOutcome>;
    failCommits?: number;
    commitDelayMs?: number;
    reorderWindowMs?: number;
    logger?: Logger;
    budget?: QueueBudget;
    budgetFetch?: { pause(): void; resume(): void };
  } = {},
) {
  const { producer, txns } = fakeProducer(opts.failCommits, opts.commitDelayMs);
  const metrics = new ProcessorMetrics(createMetricsRegistry({ service: 't', collectDefaults: false }));
  const store = await openTestStore(2);
  const failures: unknown[] = [];
  const expand = opts.expand ?? (async () => ({ kind: 'gone' }) as ExpandOutcome);
  const worker = new PartitionWorker({
    topic: topics.raw,
    partition: 2,
    groupId: 'grp',
    stateTopic: topics.state,
    statePartition: 2,
    dlqTopic: topics.dlq,
    backfillTopic: topics.backfill,
    knownObjectsTopic: topics.knownObjects,
    producer,
    store,
    pipeline: new Pipeline({
      topics,
      // Long enough for RECENT_TIME to lie inside the acceptance window (processors/stages/window.ts).
      dedupeWindowMs: 6 * 3_600_000,
      deferAfterMs: 20,
      normalize,
      encoder: new DomainEventEncoder(new Map([[topics.emailMessages, 1]])),
      expand: (n) => expand(n.grantId),
    }),
    metrics,
    logger: opts.logger ?? silentLogger(),
    committed: 10n,
    maxRecordsPerTransaction: 100,
    maxQueuedRecords: 1000,
    maxQueuedBytes: 1024 * 1024,
    budget: (opts.budget ?? new QueueBudget(64 * 1024 * 1024)).join(
      opts.budgetFetch ?? { pause: () => undefined, resume: () => undefined },
    ),
    reorderWindowMs: opts.reorderWindowMs ?? 0,
    sweepIntervalMs: 60_000,
    maxForgetPerTransaction: 100,
    pauseFetch: () => undefined,
    resumeFetch: () => undefined,
    onFailure: (err) => failures.push(err),
  });
  return { worker, txns, store, failures, metrics };
}

function recs(from: number, specs: Array<[string, Parameters<typeof messageNotification>[1]]>): RawRecord[] {
  return specs.map(([g, s], i) =>
    rawRecord({ grantId: g, offset: from + i, partition: 2, body: messageNotification(g, s) }),
  );
}

afterAll(closeTestStores);

describe('partition worker', () => {
  it('commits events, state and the next offset in one transaction, then applies the state', async () => {
    const { worker, txns, store } = await setup();
    worker.start();
    expect(worker.enqueue(recs(10, [['g', { id: 'a', messageId: 'm' }]]), 10n, 10n)).toBe(true);
    await pollUntil(() => txns.find((t) => t.outcome === 'committed'));
    await worker.stop();
    const t = txns[0] as Txn;
    expect(t.offset).toBe('11');
    expect(t.messages[topics.emailMessages]).toHaveLength(1);
    const state = t.messages[topics.state] ?? [];
    expect(state).toHaveLength(1);
    expect(JSON.parse(state[0]?.key as string).slice(0, 2)).toEqual([2, 'b']);
    expect(JSON.parse(state[0]?.value as string)).toMatchObject({
      d: ['a'],
      v: [['g', 'message', 'm', expect.any(String), '10', 0]],
    });
    expect(await store.isSeen('a', Date.now())).toBe(true);
    // The store reflects the changelog through this transaction's one state record (offset 0).
    expect(store.checkpoint?.offset).toBe(1n);
    expect(worker.committedNext).toBe(11n);
  });

  it('shows the entries of its last round once they are on disk, with no later round to update the gauge', async () => {
    const { worker, txns, store, metrics } = await setup();
    worker.start();
    worker.enqueue(
      recs(10, [
        ['g', { id: 'a', messageId: 'm1' }],
        ['g', { id: 'b', messageId: 'm2' }],
      ]),
      10n,
      10n,
    );
    await pollUntil(() => txns.find((t) => t.outcome === 'committed'));
    await store.settled();
    const dedupe = async () =>
      (await metrics.stateEntries.get()).values.find((v) => v.labels.kind === 'dedupe')?.value;
    try {
      await pollUntil(async () => (await dedupe()) === 2, { description: 'the dedupe gauge at 2' });
    } finally {
      await worker.stop();
    }
  });

  it('leaves no lag or state gauges behind when its partition is revoked during a round', async () => {
    const { worker, txns, metrics } = await setup({ commitDelayMs: 200 });
    worker.start();
    worker.enqueue(recs(10, [['g', { id: 'a', messageId: 'm' }]]), 10n, 10n);
    await pollUntil(() => txns.length > 0); // the round is committing
    // What Processor.revoke does: forget the partition's gauges, then stop its worker.
    metrics.forgetPartition(2);
    await worker.stop();
    expect(txns[0]?.outcome).toBe('committed');
    expect((await metrics.consumerLag.get()).values).toEqual([]);
    const entries = (await metrics.stateEntries.get()).values;
    expect(entries.every((v) => v.value === 0)).toBe(true);
  });

  it('holds its queued bytes against the process budget until its rounds end, pausing and resuming', async () => {
    const budget = new QueueBudget(200_000);
    const fetch: string[] = [];
    const { worker, txns } = await setup({
      commitDelayMs: 300,
      budget,
      budgetFetch: { pause: () => fetch.push('pause'), resume: () => fetch.push('resume') },
    });
    // Another partition of the process holds half the budget (its share) and does not drain.
    budget.join({ pause: () => undefined, resume: () => undefined }).update(100_000);
    worker.start();
    const records = recs(
      10,
      Array.from({ length: 150 }, (_, i): [string, { id: string; messageId: string }] => [
        'g',
        { id: `b${i}`, messageId: `m${i}` },
      ]),
    );
    const bytes = records.reduce((n, r) => n + queuedBytesOf(r), 0);
    worker.enqueue(records.slice(0, 100), 10n, 109n);
    worker.enqueue(records.slice(100), 110n, 159n);
    expect(budget.queuedBytes).toBe(100_000 + bytes);
    expect(fetch).toEqual(['pause']);
    await pollUntil(() => txns.length > 0); // the first round (the first batch) is committing
    expect(budget.queuedBytes).toBe(100_000 + bytes);
    await pollUntil(() => txns.filter((t) => t.outcome === 'committed').length >= 2);
    await pollUntil(() => budget.queuedBytes === 100_000);
    expect(fetch).toEqual(['pause', 'resume']);
    await worker.stop();
  });

  it('gives its queued bytes back to the process budget when stopped with records still queued', async () => {
    const budget = new QueueBudget(200_000);
    const { worker, txns } = await setup({ commitDelayMs: 300, budget });
    worker.start();
    worker.enqueue(recs(10, [['g', { id: 'r0', messageId: 'm0' }]]), 10n, 10n);
    await pollUntil(() => txns.length > 0);
    worker.enqueue(recs(11, [['g', { id: 'r1', messageId: 'm1' }]]), 11n, 11n);
    await worker.stop(); // revoked: the second batch is never taken
    expect(budget.queuedBytes).toBe(0);
  });

  it('logs each dead letter once committed: reason, code, stage, source position', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({
      name: 'processor',
      level: 'info',
      destination: { write: (line: string) => lines.push(JSON.parse(line)) },
    });
    const { worker, txns } = await setup({ logger });
    worker.start();
    const garbage: RawRecord = { ...(recs(10, [['g', { id: 'a', messageId: 'm' }]])[0] as RawRecord) };
    garbage.value = Buffer.from('{not json');
    expect(worker.enqueue([garbage], 10n, 10n)).toBe(true);
    await pollUntil(() => txns.find((t) => t.outcome === 'committed'));
    await worker.stop();
    expect(txns[0]?.messages[topics.dlq]).toHaveLength(1);
    const logged = lines.filter((l) => l.msg === 'notification dead-lettered');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 'warn',
      reason: 'MALFORMED_JSON',
      code: 'MALFORMED_JSON',
      stage: 'decode',
      redrivable: false,
      source: { topic: garbage.topic, partition: 2, offset: '10' },
      dlqTopic: topics.dlq,
    });
  });

  it('refuses a batch that starts before the expected position (the caller seeks instead)', async () => {
    const { worker } = await setup();
    expect(worker.enqueue(recs(5, [['g', { id: 'x', messageId: 'm' }]]), 5n, 5n)).toBe(false);
    expect(worker.expectedFetch).toBe(10n);
    // Beyond it is fine: only transaction markers / aborted records were skipped.
    expect(worker.enqueue(recs(12, [['g', { id: 'y', messageId: 'm' }]]), 12n, 12n)).toBe(true);
  });

  it('on a failed commit: aborts, leaves the store untouched and reports the failure', async () => {
    const { worker, txns, store, failures } = await setup({ failCommits: 1 });
    worker.start();
    worker.enqueue(recs(10, [['g', { id: 'a', messageId: 'm' }]]), 10n, 10n);
    await pollUntil(() => failures.length > 0);
    expect(txns[0]?.outcome).toBe('aborted');
    expect(await store.isSeen('a', Date.now())).toBe(false);
    expect(store.checkpoint).toBeUndefined();
    expect(worker.committedNext).toBe(10n);
  });

  it('commits other grants while one waits for the API, keeping the offset at the waiting record', async () => {
    let release: (o: ExpandOutcome) => void = () => undefined;
    const { worker, txns, store } = await setup({
      expand: (g) =>
        g === 'slow'
          ? new Promise<ExpandOutcome>((r) => {
              release = r;
            })
          : Promise.resolve({ kind: 'expanded', object: {} }),
    });
    worker.start();
    worker.enqueue(
      recs(10, [
        ['fast', { id: 'f1', messageId: 'a' }],
        ['slow', { id: 's1', messageId: 'b', truncated: true }],
        ['fast', { id: 'f2', messageId: 'c' }],
      ]),
      10n,
      12n,
    );
    const first = await pollUntil(() => txns.find((t) => t.outcome === 'committed'));
    expect(first.offset).toBe('11');
    expect(first.messages[topics.emailMessages]).toHaveLength(2);
    expect(store.progress).toEqual({ next: '11', through: '13', unprocessed: ['11'] });
    expect(store.handledAhead('12')).toBe(true);
    release({ kind: 'expanded', object: { body: 'full' } });
    const second = await pollUntil(() => txns.filter((t) => t.outcome === 'committed')[1]);
    await worker.stop();
    expect(second.offset).toBe('13');
    expect(second.messages[topics.emailMessages]).toHaveLength(1);
    expect(second.messages[topics.state]?.some((m) => m.key === '[2,"p"]' && m.value === null)).toBe(true);
    expect(store.progress).toBeNull();
  });

  it('skips records a previous owner already handled past its committed offset', async () => {
    const { worker, txns, store } = await setup();
    await store.apply([{ kind: 'progress', progress: { next: '10', through: '12', unprocessed: ['10'] } }]);
    worker.start();
    worker.enqueue(
      recs(10, [
        ['slow', { id: 's1', messageId: 'b' }],
        ['fast', { id: 'f1', messageId: 'a' }],
      ]),
      10n,
      11n,
    );
    const t = await pollUntil(() => txns.find((x) => x.outcome === 'committed'));
    await worker.stop();
    expect(
      t.messages[topics.emailMessages]?.map(
        (m) => (m.headers as Record<string, string>)['nylas-notification-id'],
      ),
    ).toEqual(['s1']);
    expect(t.offset).toBe('12');
  });
});

describe('partition worker: REORDER_WINDOW_MS', () => {
  it('holds records until the oldest is old enough, so a late older state is ordered before the newer one', async () => {
    const { worker, txns } = await setup({ reorderWindowMs: 300 });
    worker.start();
    const now = Date.now();
    const rec = (offset: number, id: string, action: 'created' | 'updated', time: number) =>
      rawRecord({
        grantId: 'g',
        offset,
        partition: 2,
        receivedAt: now,
        body: messageNotification('g', { id, messageId: 'm', action, time: RECENT_TIME + time }),
      });
    worker.enqueue([rec(10, 'upd', 'updated', 200)], 10n, 10n);
    // Arrives a moment later, in another fetch: without the hold it would be stale.
    await new Promise((r) => setImmediate(r));
    worker.enqueue([rec(11, 'crt', 'created', 100)], 11n, 11n);
    const t = await pollUntil(() => txns.find((x) => x.outcome === 'committed'));
    await worker.stop();
    expect(Date.now() - now).toBeGreaterThanOrEqual(290);
    expect(
      t.messages[topics.emailMessages]?.map(
        (m) => (m.headers as Record<string, string>)['nylas-notification-id'],
      ),
    ).toEqual(['crt', 'upd']);
    expect(t.offset).toBe('12');
  });
});

describe('chunksOf', () => {
  it('splits a transaction into request-sized chunks, keeping order per topic', () => {
    const m = (i: number) => ({ key: 'k', value: Buffer.alloc(100, i) });
    const byTopic = new Map([
      ['a', [m(1), m(2), m(3)]],
      ['b', [m(4), m(5)]],
    ]);
    const chunks = chunksOf(byTopic, 400);
    expect(chunks.length).toBeGreaterThan(1);
    const flat = (topic: string) =>
      chunks.flatMap((c) =>
        c.filter((t) => t.topic === topic).flatMap((t) => t.messages.map((x) => (x.value as Buffer)[0])),
      );
    expect(flat('a')).toEqual([1, 2, 3]);
    expect(flat('b')).toEqual([4, 5]);
    expect(chunksOf(new Map(), 400)).toEqual([]);
  });
});
