/**
 * `kill -9` of the real processor process between a transaction's commit and its store's apply: the
 * changelog holds the transaction's state changes, the store on disk does not. A restart on the same
 * disk restores the changelog tail past the stale checkpoint, so nothing is emitted twice, no older
 * version follows a newer one, and the notifications of the lost apply are still duplicates.
 *
 * The kill point is exact, not hoped for: test/helpers/kill-in-store-apply.js (a `node -r` preload, no
 * hook in production code) SIGKILLs the child inside the Nth PartitionStore.apply called by a round
 * (processors/partition.ts calls it only after the commit), before the store writes anything, and writes
 * a marker first. The test checks the marker's round committed (its notifications are on the
 * read_committed domain topic) and the store on disk lacks it (old checkpoint, ids unseen).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pollUntil, type TopicCollector, uniqueName } from '../../../helpers/kafka';
import {
  ensureBuilt,
  exited,
  KILL_IN_STORE_APPLY,
  killed,
  logLines,
  readKillMarker,
  spawnProcessor,
  stopped,
} from '../../../helpers/processor-child';
import { newStateDir, ProcessorHarness } from '../../../helpers/processor-harness';
import {
  allEmitted,
  barriers,
  judgeOutput,
  mixedWorkload,
  redelivery,
  type Sent,
  sentMessage,
  staleUpdate,
} from '../../../helpers/state-workload';

const PARTITIONS = 2;
const GRANTS = Array.from({ length: 6 }, (_, i) => uniqueName(`g${i}`));
const partitionOf = (g: number) => g % PARTITIONS;
/** Which round apply dies: the third, so the first rounds' state is on disk and later ones build on it. */
const KILL_AT = 3;

describe('processor state: kill -9 between the commit and the store apply', () => {
  const h = new ProcessorHarness({ partitions: PARTITIONS });
  const work = mkdtempSync(path.join(tmpdir(), 'nylas-stream-state-crash-'));
  const stateDir = newStateDir();
  const marker = path.join(work, 'kill-marker.json');
  let out: TopicCollector;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    ensureBuilt();
    await h.setUp();
    out = await h.collect([h.topics.emailMessages], 'read_committed');
  }, 300_000);

  afterAll(async () => {
    if (child) await killed(child);
    await h.tearDown();
  });

  const env = (extra: Record<string, string> = {}) => ({
    ...h.env,
    // The disk both children share: the second restores only the changelog tail past the checkpoint.
    PROCESSOR_STATE_DIR: stateDir,
    // The takeover's log line says how each partition was restored.
    LOG_LEVEL: 'info',
    // The killed child's group membership lingers this long before the restarted one can take over.
    PROCESSOR_SESSION_TIMEOUT_MS: '6000',
    ...extra,
  });

  it('restores the lost apply from the changelog tail: no double, no regression, old ids stay duplicates', async () => {
    const w = mixedWorkload('crash', GRANTS, 6, partitionOf);
    const log1 = path.join(work, 'first.log');
    const first = spawnProcessor({
      logFile: log1,
      preload: KILL_IN_STORE_APPLY,
      env: env({
        NYLAS_STREAM_TEST_KILL_AT_APPLY: String(KILL_AT),
        NYLAS_STREAM_TEST_KILL_CALLER: 'partition',
        NYLAS_STREAM_TEST_KILL_MARKER: marker,
      }),
    });
    child = first;
    const died = exited(first);
    // Step by step, each waited for while the child lives, so rounds follow steps and the kill lands in
    // a round whose state later steps depend on (redeliveries, newer versions).
    let dead = false;
    died.then(() => {
      dead = true;
    });
    for (const step of w.steps) {
      await h.produce(step.map(sentMessage));
      const ids = step.filter((s) => w.emitted.has(s.id)).map((s) => s.id);
      await pollUntil(() => dead || allEmitted(out.records, ids), {
        timeoutMs: 60_000,
        description: 'the step emitted, or the child dead',
      });
    }
    await pollUntil(() => dead, { timeoutMs: 30_000, description: 'the child killed inside a round apply' });
    expect(await died).toEqual({ code: null, signal: 'SIGKILL' });

    // The kill landed between the commit and the apply of a round of partition `m.partition`.
    const m = readKillMarker(marker);
    expect(m).toMatchObject({ pid: first.pid, caller: 'partition' });
    const lostEmitted = m.dedupeIds.filter((id) => w.emitted.has(id));
    expect(lostEmitted.length).toBeGreaterThan(0);
    await pollUntil(() => allEmitted(out.records, lostEmitted), {
      description: "the killed round's events on the read_committed topic (it committed)",
    });
    const store = h.openStore(stateDir, m.partition);
    try {
      expect(store.checkpoint?.offset.toString() ?? null).toBe(m.storeCheckpoint);
      expect(BigInt(m.checkpoint)).toBeGreaterThan(BigInt(m.storeCheckpoint ?? '-1'));
      expect(m.dedupeIds.filter((id) => store.seen(id, Date.now()))).toEqual([]);
    } finally {
      await store.close();
    }

    // Restart on the same disk; it takes both partitions over and drains what the first left.
    const log2 = path.join(work, 'second.log');
    child = spawnProcessor({ logFile: log2, env: env() });
    await pollUntil(() => allEmitted(out.records, w.emitted), {
      timeoutMs: 90_000,
      description: 'every distinct notification of the workload emitted',
    });
    const takeovers = logLines(log2, 'partitions taken over (fenced, state restored)');
    const modes = Object.assign({}, ...takeovers.map((t) => t.modes));
    expect(modes).toEqual({ 0: 'tail', 1: 'tail' });
    // The tail held at least the lost round's changelog records.
    expect(takeovers.reduce((n, t) => n + Number(t.records), 0)).toBeGreaterThanOrEqual(1);

    // Everything again that the lost apply held, and a sample of the rest: all duplicates. An older
    // update of every object: all stale (for the objects whose last state was the lost round's, only
    // the restored tail knows it). Then a barrier per grant.
    const before = new Set(out.records.map((r) => `${r.partition}:${r.offset}`));
    const all = w.steps.flat().filter((s) => s.attempt === 1);
    const lost = new Set(m.dedupeIds);
    const again: Sent[] = all.filter((s, i) => lost.has(s.id) || i % 5 === 0).map(redelivery);
    const stale = w.objects.map((o, i) => staleUpdate(o, `crash-stale-${i}`));
    const fence = barriers('crash', GRANTS, partitionOf);
    await h.produce([...again, ...stale, ...fence].map(sentMessage));
    await pollUntil(
      () =>
        allEmitted(
          out.records,
          fence.map((s) => s.id),
        ),
      {
        description: 'every barrier emitted',
      },
    );
    expect(again.some((s) => lost.has(s.id))).toBe(true);

    const verdict = await judgeOutput(out.records);
    expect(verdict.doubledNotifications).toEqual([]);
    expect(verdict.doubledEvents).toEqual([]);
    expect(verdict.regressions).toEqual([]);
    const fresh = out.records.filter((r) => !before.has(`${r.partition}:${r.offset}`));
    expect(fresh).toHaveLength(fence.length);
    expect(new Set(verdict.notificationIds)).toEqual(new Set([...w.emitted, ...fence.map((s) => s.id)]));

    expect(await stopped(child)).toBe(0);
    child = undefined;
  }, 180_000);
});
