/**
 * History on first authentication (BACKFILL_HISTORY_DAYS): Nylas sends nothing for data from before a
 * grant's first authentication (contract §7), so with the option set, grant.created requests a backfill
 * of the last N days. Real broker, registry and the simulator's API; the oracle is the simulated world:
 * exactly the messages received in those N days reach the domain topic (origin BACKFILL), none older, and
 * the grant's contacts, calendars and folders are emitted whole.
 */
import { createMetricsRegistry } from '../../../lib/metrics';
import { latestGrantState, listCallsOf } from '../../helpers/backfill';
import { pollUntil } from '../../helpers/kafka';
import { decodeDomainEvent, ProcessorHarness } from '../../helpers/processor-harness';
import { envelope, rawMessage } from '../../helpers/raw-notifications';

const DAY = 86_400;
const HISTORY_DAYS = 7;

describe('backfill: history on first authentication (real broker, registry, simulator API)', () => {
  // The world's 400 messages were received over the last 30 days; its contacts, calendars and folders
  // exist already. Nothing of it was ever notified.
  const h = new ProcessorHarness({
    partitions: 1,
    grants: 1,
    initialObjects: { messages: 400, contacts: 30 },
  });
  const registry = createMetricsRegistry({ service: 'processor' });

  beforeAll(async () => {
    await h.setUp();
    await h.startProcessor({ BACKFILL_HISTORY_DAYS: String(HISTORY_DAYS) }, { registry });
  }, 120_000);
  afterAll(async () => {
    await h.tearDown();
  });

  it(`grant.created requests ${HISTORY_DAYS} days of history: exactly the messages received in them, and every contact, calendar and folder`, async () => {
    const [grantId] = h.world.grantIds as [string];
    const grant = h.world.getGrant(grantId);
    const collect = (topic: string) => h.collect([topic], 'read_committed');
    const collected = {
      messages: await collect(h.topics.emailMessages),
      contacts: await collect(h.topics.contacts),
      calendars: await collect(h.topics.calendarCalendars),
      folders: await collect(h.topics.emailFolders),
    };
    const backfillTopic = await h.collect([h.topics.backfill], 'read_committed');
    const createdAt = h.world.now();
    await h.produce([
      rawMessage({
        grantId,
        body: envelope({
          type: 'grant.created',
          id: `created-${grantId}`,
          time: createdAt,
          source: '/nylas/system',
          object: {
            code: 25012,
            grant_id: grantId,
            integration_id: grant?.integration_id,
            provider: grant?.provider,
            email: grant?.email,
          },
        }),
      }),
    ]);
    await pollUntil(() => latestGrantState(backfillTopic, grantId)?.last?.outcome === 'completed', {
      timeoutMs: 120_000,
      description: 'the history backfill completed',
    });
    const state = latestGrantState(backfillTopic, grantId);
    expect(state?.last?.reason).toBe('first_auth');
    const messageCalls = listCallsOf(h, grantId).filter((r) => r.path.endsWith('/messages'));
    expect(messageCalls[0]?.query).toMatchObject({
      received_after: String(createdAt - HISTORY_DAYS * DAY),
      received_before: String(createdAt),
    });

    const all = h.world.listObjects(grantId, 'messages', { withBodies: false });
    const wanted = new Set(
      all.filter((m) => Number(m.date) >= createdAt - HISTORY_DAYS * DAY).map((m) => String(m.id)),
    );
    // The world spreads its messages over 30 days: some inside the window, most before it.
    expect(wanted.size).toBeGreaterThan(20);
    expect(all.length - wanted.size).toBeGreaterThan(wanted.size);
    const want = {
      messages: [...wanted].sort(),
      contacts: h.world.liveIds(grantId, 'contacts').sort(),
      calendars: h.world.liveIds(grantId, 'calendars').sort(),
      folders: h.world.liveIds(grantId, 'folders').sort(),
    };
    let got: Record<string, string[]> = {};
    await pollUntil(
      async () => {
        got = {};
        for (const [family, c] of Object.entries(collected)) {
          const events = await Promise.all(c.records.map(decodeDomainEvent));
          if (events.some((e) => e.value.origin !== 'BACKFILL')) throw new Error(`${family}: a live event`);
          got[family] = [...new Set(events.map((e) => String(e.value.object_id)))].sort();
        }
        return JSON.stringify(got) === JSON.stringify(want);
      },
      { timeoutMs: 120_000, description: 'the history on the domain topics' },
    ).catch((err: unknown) => {
      throw new Error(
        `${String(err)}: ${Object.entries(want)
          .map(([f, ids]) => `${f} want ${ids.length}, got ${got[f]?.length ?? 0}`)
          .join('; ')}`,
      );
    });
    console.log(
      `history on first auth (${HISTORY_DAYS} days): ${want.messages.length} of ${all.length} messages ` +
        `(received in the window), ${want.contacts.length} contacts, ${want.calendars.length} calendars, ` +
        `${want.folders.length} folders; ${state?.last?.calls} list calls`,
    );
  }, 300_000);
});
