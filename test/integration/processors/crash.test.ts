/**
 * `kill -9` of the real processor process (`node dist/cli/index.js processor`) in the middle of a
 * transaction: on restart nothing is missing and nothing is doubled for a read_committed consumer.
 *
 * "In the middle of a transaction" is observed, not hoped for: a read_uncommitted reader sees a
 * transaction's records as soon as they are produced, a read_committed one only after the commit, so the
 * child is killed while the first is ahead of the second. After the restart the killed transaction is
 * aborted by the new owner's InitProducerId; its records stay in the log, visible to read_uncommitted
 * only, which the test also checks (the proof that the kill did land inside a transaction).
 */
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Message } from 'kafkajs';
import { headerString, pollUntil, type TopicCollector, uniqueName } from '../../helpers/kafka';
import { ensureBuilt, killed, spawnProcessor, stopped } from '../../helpers/processor-child';
import { ProcessorHarness } from '../../helpers/processor-harness';
import { messageNotification, messageObject, rawMessage } from '../../helpers/raw-notifications';

describe('processor: kill -9 in the middle of a transaction', () => {
  const h = new ProcessorHarness({ partitions: 2, grants: 4 });
  let committed: TopicCollector;
  let uncommitted: TopicCollector;
  let child: ChildProcess | undefined;
  const logFile = path.join(tmpdir(), `nylas-stream-crash-${Date.now()}.log`);

  beforeAll(async () => {
    ensureBuilt();
    await h.setUp();
    committed = await h.collect([h.topics.emailMessages], 'read_committed');
    uncommitted = await h.collect([h.topics.emailMessages], 'read_uncommitted');
  }, 300_000);

  afterAll(async () => {
    child?.kill('SIGKILL');
    await h.tearDown();
  });

  function startChild(): ChildProcess {
    return spawnProcessor({
      logFile,
      env: {
        ...h.env,
        LOG_LEVEL: 'warn',
        // Many transactions of several produce requests each, so most of the busy time is inside one.
        PROCESSOR_MAX_RECORDS_PER_TRANSACTION: '600',
      },
    });
  }

  /** With the child frozen: is a transaction open? kafkajs's admin lists offsets read_committed, i.e.
   * the last stable offset, which stops at the first record of an open transaction; records a
   * read_uncommitted reader saw at or beyond it belong to a transaction not yet committed or aborted. */
  async function transactionOpen(): Promise<boolean> {
    const stable = new Map(
      (await h.admin.fetchTopicOffsets(h.topics.emailMessages)).map((o) => [o.partition, BigInt(o.offset)]),
    );
    return uncommitted.records.some((r) => BigInt(r.offset) >= (stable.get(r.partition) ?? 0n));
  }

  it('loses nothing and doubles nothing for read_committed consumers', async () => {
    // 6000 notifications (4 KB bodies) over 12 grants: distinct messages (so ordering suppresses
    // nothing), every tenth delivered twice (so dedupe must work across the crash), some truncated.
    const grants = [...h.world.grantIds, ...Array.from({ length: 8 }, () => uniqueName('g'))];
    const expected = new Set<string>();
    const body4k = `<div>${'lorem ipsum '.repeat(340)}</div>`;
    const batch: Message[] = [];
    for (let i = 0; i < 6000; i++) {
      const g = grants[i % grants.length] as string;
      const id = `crash-${i}`;
      const mid = `m-${i}`;
      const truncated = i % 50 === 0 && h.world.grantIds.includes(g);
      if (truncated) h.world.upsertObject(g, 'messages', messageObject(g, mid, { body: `<p>${i}</p>` }));
      const object = messageObject(g, mid, { body: body4k });
      batch.push(
        rawMessage({ grantId: g, body: messageNotification(g, { id, messageId: mid, truncated, object }) }),
      );
      expected.add(id);
      if (i % 10 === 5) {
        batch.push(
          rawMessage({
            grantId: g,
            body: messageNotification(g, { id, messageId: mid, truncated, object, attempt: 2 }),
          }),
        );
      }
    }
    for (let i = 0; i < batch.length; i += 150) await h.produce(batch.slice(i, i + 150));

    child = startChild();
    await pollUntil(() => committed.records.length > 0, {
      timeoutMs: 120_000,
      description: 'processing started',
    });
    // As soon as a transaction's first records show up (read_uncommitted), freeze the child and check
    // that a transaction is still open (the tail of a partition is a data record, not the marker every
    // finished transaction ends with). If so, kill it there; else let it run to the next transaction.
    let killedInTransaction = false;
    for (let attempt = 0; attempt < 40 && !killedInTransaction; attempt++) {
      const running = child;
      const before = uncommitted.records.length;
      await pollUntil(() => uncommitted.records.length > before, {
        intervalMs: 1,
        description: 'a transaction writing',
      });
      running.kill('SIGSTOP');
      if (await transactionOpen()) {
        await killed(running);
        killedInTransaction = true;
        break;
      }
      running.kill('SIGCONT');
    }
    expect(killedInTransaction).toBe(true);
    const committedAtKill = committed.records.length;
    expect(committedAtKill).toBeLessThan(expected.size);

    child = startChild();
    // A barrier per grant: once every grant's barrier is committed, everything before it was handled.
    const barrierIds = grants.map((g) => `barrier-${g}`);
    await h.produce(
      grants.map((g) =>
        rawMessage({ grantId: g, body: messageNotification(g, { id: `barrier-${g}`, messageId: `b-${g}` }) }),
      ),
    );
    await pollUntil(
      () => {
        const seen = new Set(committed.records.map((r) => headerString(r.headers, 'nylas-notification-id')));
        return barrierIds.every((id) => seen.has(id));
      },
      { timeoutMs: 180_000, description: 'every barrier committed' },
    );

    const ids = committed.records.map((r) => headerString(r.headers, 'nylas-notification-id') as string);
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const doubled = [...counts].filter(([, n]) => n > 1);
    const missing = [...expected].filter((id) => !counts.has(id));
    expect(doubled).toEqual([]);
    expect(
      missing.length === 0
        ? 'nothing missing'
        : `${missing.length} missing, e.g. ${missing.slice(0, 5).join(', ')}`,
    ).toBe('nothing missing');
    expect(ids).toHaveLength(expected.size + barrierIds.length);

    // The killed transaction was aborted: its records exist (read_uncommitted) but were never committed.
    await pollUntil(() => uncommitted.records.length > committed.records.length, {
      description: 'aborted records visible to read_uncommitted',
    });

    expect(await stopped(child)).toBe(0);
    child = undefined;
  }, 300_000);
});
