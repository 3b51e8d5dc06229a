/**
 * A large backfill under rate limiting, its processor killed (kill -9) in the middle: the next processor
 * resumes from the committed cursor, not from the first page, and the domain topic ends with every
 * message the list endpoint can reveal, each event id once. Real broker, registry and the simulator's
 * API; the processors are child processes (test/helpers/processor-child.ts).
 *
 * The figures the closing note asks for are printed: objects recovered against the oracle, list calls
 * made (200 and 429), objects per second for the grant under 429s, and the time from the restart to
 * the first list call of the resumed backfill.
 */
import type { ChildProcess } from 'node:child_process';
import { grantExpiryLong, listableState, NotificationGenerator } from '../../../simulator';
import { latestGrantState, listCallsOf, rateLimitLists } from '../../helpers/backfill';
import { pollUntil } from '../../helpers/kafka';
import { logLines } from '../../helpers/log-lines';
import { exited, processorChildren } from '../../helpers/processor-child';
import { decodeDomainEvent, ProcessorHarness } from '../../helpers/processor-harness';
import { rawMessage } from '../../helpers/raw-notifications';

const DAY = 86_400;
const GAP_MESSAGES = 10_000;

describe('backfill: 10,000 messages under 429s, the processor killed mid-way', () => {
  const h = new ProcessorHarness({
    partitions: 1,
    grants: 2,
    worldStart: Math.floor(Date.now() / 1000) - 7 * DAY,
    env: { DEDUPE_WINDOW: '10d', ACCEPT_WINDOW: '9d', BACKFILL_PAGE_SIZE: '200' },
  });
  const children = processorChildren(h, 'backfill-resume');

  it('resumes from its cursor; nothing missing, nothing twice', async () => {
    const messages = children.out();
    const backfillTopic = await h.collect([h.topics.backfill], 'read_committed');
    const generator = new NotificationGenerator({
      world: h.world,
      bodySizes: { largeRate: 0, mediumRate: 0 },
      variants: { metadataGrants: 0 },
    });
    const run = grantExpiryLong(generator, { gapMessages: GAP_MESSAGES, gapDays: 5 });
    const grant = run.a.grantId;
    const listCalls = () => listCallsOf(h, grant);
    // Rate limiting throughout: after every third answered list call of the grant, a 429 (Retry-After: 1).
    const stopLimiting = rateLimitLists(h, grant, 3);

    const first: ChildProcess = children.start('first');
    const firstDied = exited(first);
    await h.produce(
      run.notifications.map((n) => rawMessage({ grantId: n.grantId, body: n.envelope as never })),
    );

    // Kill it once a fifth of the pages have been read and committed.
    const started = Date.now();
    await pollUntil(
      () => listCalls().filter((r) => r.path.endsWith('/messages') && r.status === 200).length >= 10,
      { timeoutMs: 180_000, description: 'ten pages of messages' },
    );
    first.kill('SIGKILL');
    expect(await firstDied).toEqual({ code: null, signal: 'SIGKILL' });
    const callsBeforeKill = listCalls().length;

    const restartedAt = Date.now();
    children.start('second');
    await pollUntil(() => listCalls().length > callsBeforeKill, {
      timeoutMs: 120_000,
      description: 'the resumed backfill’s first list call',
    });
    const resumeSeconds = (Date.now() - restartedAt) / 1000;
    const resumedCall = listCalls()[callsBeforeKill];
    // Mid-window: the first call after the restart continues the messages listing with a page token.
    expect(resumedCall?.path.endsWith('/messages')).toBe(true);
    expect(resumedCall?.query.page_token).toBeDefined();

    const state = () => latestGrantState(backfillTopic, grant);
    await pollUntil(() => state()?.last?.outcome === 'completed', {
      timeoutMs: 600_000,
      intervalMs: 1000,
      description: 'the backfill completed',
    });
    const backfillSeconds = (Date.now() - started) / 1000;
    stopLimiting();

    const oracle = listableState(h.world, grant, { after: run.a.expiredAt, before: run.a.reauthenticatedAt });
    const wanted = new Set(oracle.messages.map((m) => String(m.id)));
    // Some of the gap's messages were deleted in it again: those no list can reveal.
    expect(wanted.size).toBeGreaterThan(GAP_MESSAGES * 0.9);
    let got = new Set<string>();
    const ids = new Map<string, number>();
    await pollUntil(
      async () => {
        const events = await Promise.all(
          messages.records.filter((r) => r.key?.toString() === grant).map(decodeDomainEvent),
        );
        got = new Set(
          events.filter((e) => e.value.origin === 'BACKFILL').map((e) => String(e.value.object_id)),
        );
        ids.clear();
        for (const e of events)
          ids.set(String(e.value.event_id), (ids.get(String(e.value.event_id)) ?? 0) + 1);
        return [...wanted].every((id) => got.has(id));
      },
      { timeoutMs: 300_000, intervalMs: 2000, description: 'every revealable message emitted' },
    ).catch(async (err: unknown) => {
      const missing = [...wanted].filter((id) => !got.has(id));
      const url = logLines(children.logFile('second'), 'processor running')[0]?.metrics;
      const metrics = url
        ? (await (await fetch(`${String(url)}/metrics`)).text())
            .split('\n')
            .filter(
              (l) => l.startsWith('nylas_stream_processor_notifications_total') || l.includes('consumer_lag'),
            )
            .join('\n')
        : 'no metrics url';
      const sample = await Promise.all(
        messages.records
          .filter((r) => r.key?.toString() === grant)
          .slice(0, 2)
          .map(decodeDomainEvent),
      );
      const keys = new Map<string, number>();
      for (const r of messages.records) keys.set(String(r.key), (keys.get(String(r.key)) ?? 0) + 1);
      console.log(
        metrics,
        JSON.stringify([...keys.entries()]),
        JSON.stringify(sample.map((e) => ({ ...e.value, message: undefined, record: undefined }))),
      );
      throw new Error(
        `${String(err)}: ${missing.length} of ${wanted.size} missing (e.g. ${missing.slice(0, 3).join(', ')}); ` +
          `${messages.records.length} message events, backfill state ${JSON.stringify(state()?.last)}`,
      );
    });
    expect([...ids.entries()].filter(([, n]) => n > 1)).toEqual([]);
    const calls = listCalls();
    const limited = calls.filter((r) => r.status === 429).length;
    expect(limited).toBeGreaterThan(5);
    const objects = state()?.last?.objects ?? 0;
    console.log(
      [
        `backfill of ${GAP_MESSAGES} gap messages (5 days), killed after 10 pages:`,
        `  messages recovered ${[...wanted].filter((id) => got.has(id)).length} of ${wanted.size} revealable`,
        `  list calls ${calls.length} (200: ${calls.filter((r) => r.status === 200).length}, 429: ${limited})`,
        `  objects written by the resumed request ${objects} in ${backfillSeconds.toFixed(1)} s from the first page: ${(objects / backfillSeconds).toFixed(0)} objects/s for the grant (kill and restart included)`,
        `  restart to first list call of the resumed backfill: ${resumeSeconds.toFixed(1)} s`,
      ].join('\n'),
    );
  }, 1_200_000);
});
