/**
 * Backfill end to end against the real broker, the real registry and the simulator's Nylas API
 * (docs/nylas-contract.md §7): a grant expired for five days whose gap Nylas never sends, and one
 * re-authenticated within 72 h, which Nylas backfills by itself.
 *
 * Time is compressed, not scaled: the simulated world starts six days ago, so notifications carry the
 * days-old `time` the real ones would have had; DEDUPE_WINDOW and ACCEPT_WINDOW are widened so the
 * processor accepts a grant.expired five days old (in production it arrives when it happens).
 *
 * The oracle is the simulator's world: at the end, every object the list endpoints can reveal has, as
 * its last domain event, its final state in the world, and every contact, calendar and folder downstream
 * saw that the world deleted in the gap ends deleted (reconciliation: the whole re-listing misses it).
 */
import { createMetricsRegistry } from '../../../lib/metrics';
import { parseKnownObjectKey } from '../../../processors/backfill/known-objects';
import { NotificationGenerator } from '../../../simulator';
import type { GeneratedTrigger } from '../../../simulator/world/changes';
import { runCli } from '../../helpers/cli';
import { pollUntil, type TopicCollector } from '../../helpers/kafka';
import { type DecodedEvent, decodeDomainEvent, ProcessorHarness } from '../../helpers/processor-harness';
import { rawMessage } from '../../helpers/raw-notifications';

const DAY = 86_400;
const START = Math.floor(Date.now() / 1000) - 6 * DAY;
const GAP_MESSAGES = 250;

type Family = 'messages' | 'events' | 'contacts' | 'calendars' | 'folders';
const FIELD: Record<Family, string> = {
  messages: 'message',
  events: 'event',
  contacts: 'contact',
  calendars: 'calendar',
  folders: 'folder',
};

/** What the test compares of an object: enough to tell its states apart. */
function comparable(family: Family, o: Record<string, unknown> | null | undefined): unknown {
  if (!o) return null;
  switch (family) {
    case 'messages':
      return { subject: o.subject, unread: o.unread, starred: o.starred, folders: o.folders };
    case 'events':
      return { title: o.title, status: typeof o.status === 'string' ? o.status.toLowerCase() : null };
    case 'contacts':
      return { given_name: o.given_name, surname: o.surname };
    default:
      return { name: o.name };
  }
}

describe('backfill (real broker, registry, simulator API)', () => {
  const h = new ProcessorHarness({
    partitions: 1,
    grants: 2,
    worldStart: START,
    env: { DEDUPE_WINDOW: '10d', ACCEPT_WINDOW: '9d' },
  });
  const registry = createMetricsRegistry({ service: 'processor' });
  let generator: NotificationGenerator;
  let collectors: Record<Family, TopicCollector>;
  let grants: TopicCollector;
  let dlq: TopicCollector;
  let expiredGrant: string;
  let recentGrant: string;

  async function sendAll(trigger: GeneratedTrigger, grantId: string) {
    const out = generator.force(trigger, grantId);
    if (out.length > 0)
      await h.produce(out.map((n) => rawMessage({ grantId: n.grantId, body: n.envelope as never })));
    return out;
  }

  async function send(trigger: GeneratedTrigger, grantId: string): Promise<number> {
    return (await sendAll(trigger, grantId)).length;
  }

  async function finished(outcome: string): Promise<number> {
    const m = await registry.getSingleMetric('nylas_stream_backfill_finished_total')?.get();
    return (m?.values ?? []).filter((v) => v.labels.outcome === outcome).reduce((s, v) => s + v.value, 0);
  }

  function listCalls(grantId: string) {
    return h.api.requests.filter(
      (r) => r.method === 'GET' && new RegExp(`^/v3/grants/${grantId}/[a-z]+$`).test(r.path),
    );
  }

  beforeAll(async () => {
    await h.setUp();
    [expiredGrant, recentGrant] = h.world.grantIds as [string, string];
    generator = new NotificationGenerator({ world: h.world, variants: { metadataGrants: 0 } });
    await h.startProcessor({ BACKFILL_PAGE_SIZE: '200' }, { registry });
    const t = h.topics;
    const [m, e, c, cal, f, g, d] = await Promise.all(
      [
        t.emailMessages,
        t.calendarEvents,
        t.contacts,
        t.calendarCalendars,
        t.emailFolders,
        t.grants,
        t.dlq,
      ].map((x) => h.collect([x])),
    );
    collectors = { messages: m, events: e, contacts: c, calendars: cal, folders: f } as Record<
      Family,
      TopicCollector
    >;
    grants = g as TopicCollector;
    dlq = d as TopicCollector;
  }, 120_000);

  afterAll(async () => {
    await h.tearDown();
  });

  it("a grant expired for five days: its re-authentication backfills the gap, and the domain topics end at the world's state", async () => {
    // Live traffic before the expiry (the state downstream already has).
    const liveObjects: Array<{ family: Family; id: string }> = [];
    for (const trigger of [
      'message.created',
      'event.created',
      'contact.updated',
      'folder.created',
      'calendar.created',
    ] as const)
      for (let i = 0; i < 3; i++)
        for (const n of await sendAll(trigger, expiredGrant)) {
          const family = `${trigger.split('.')[0]}s` as Family;
          liveObjects.push({ family, id: String((n.envelope.data.object as { id?: unknown }).id) });
        }
    generator.advance(600);
    const [expired] = await sendAll('grant.expired', expiredGrant);
    // The gap starts at the last successful sync the notification reports (§7, grant_updated_at).
    const since = Number(
      (expired?.envelope.data.object as Record<string, unknown> | undefined)?.grant_updated_at,
    );
    expect(since).toBeGreaterThanOrEqual(START - DAY);
    // Five days of changes Nylas holds and never sends (the grant is invalid; re-auth is past 72 h).
    const gap: GeneratedTrigger[] = [
      ...Array<GeneratedTrigger>(GAP_MESSAGES).fill('message.created'),
      ...Array<GeneratedTrigger>(15).fill('message.updated'),
      ...Array<GeneratedTrigger>(5).fill('message.deleted'),
      'event.created',
      'event.created',
      'event.updated',
      'event.updated',
      'event.deleted',
      'contact.updated',
      'contact.updated',
      'contact.deleted',
      'folder.created',
      'folder.updated',
      'folder.deleted',
      'calendar.created',
      'calendar.updated',
    ];
    // And, first, known objects deleted while the grant is expired (Nylas sends nothing for them): two
    // contacts, a folder and a calendar downstream has seen (the calendar created live has no events).
    const deletedKnown = (['contacts', 'contacts', 'folders', 'calendars'] as const).map((family, i) => {
      const known = liveObjects.filter(
        (o) => o.family === family && h.world.getRecord(expiredGrant, family, o.id)?.data !== undefined,
      );
      const o = known[i % 2 === 0 ? 0 : known.length - 1];
      if (o === undefined) throw new Error(`no live ${family} to delete`);
      h.world.deleteObject(expiredGrant, family, o.id);
      return o;
    });
    for (const trigger of gap) {
      generator.advance((5 * DAY) / gap.length);
      expect(await send(trigger, expiredGrant)).toBe(0);
    }
    generator.advance(3600);
    const apiBefore = h.api.requests.length;
    expect(await send('grant.updated', expiredGrant)).toBe(1); // re-authentication, 25027, no backfill from Nylas
    const reauthAt = h.world.now();

    await pollUntil(async () => (await finished('completed')) >= 1, {
      timeoutMs: 120_000,
      description: 'the backfill to complete',
    });
    const calls = h.api.requests.slice(apiBefore).filter((r) => /^\/v3\/grants\/[^/]+\/[a-z]+$/.test(r.path));
    // 250+ messages need two pages of 200; calendars, their events, contacts and folders one each at least.
    expect(calls.filter((r) => r.path.endsWith('/messages')).length).toBe(2);
    expect(calls.every((r) => r.status === 200)).toBe(true);

    // Oracle: what the list endpoints can reveal of the world's final state (§7).
    const revealable = new Map<string, unknown>();
    for (const family of Object.keys(FIELD) as Family[]) {
      for (const o of h.world.listObjects(expiredGrant, family, { withBodies: false })) {
        if (family === 'messages' && !(Number(o.date) >= since && Number(o.date) <= reauthAt)) continue;
        if (family === 'events' && !(Number(o.updated_at) >= since && Number(o.updated_at) <= reauthAt))
          continue;
        revealable.set(`${family}/${String(o.id)}`, comparable(family, o));
      }
    }
    expect(revealable.size).toBeGreaterThan(GAP_MESSAGES);

    // The processor drains the backfilled notifications: wait until every revealable object's last event
    // shows its final state.
    let last = new Map<string, { value: Record<string, unknown>; event: DecodedEvent }>();
    const ids = new Map<string, number>();
    await pollUntil(
      async () => {
        last = new Map();
        ids.clear();
        for (const family of Object.keys(FIELD) as Family[]) {
          const events = await Promise.all(
            collectors[family].records
              .filter((r) => r.key?.toString() === expiredGrant)
              .map(decodeDomainEvent),
          );
          for (const e of events) {
            last.set(`${family}/${String(e.value.object_id)}`, { value: e.value, event: e });
            const id = String(e.value.event_id);
            ids.set(id, (ids.get(id) ?? 0) + 1);
          }
        }
        // Reconciliation: every contact, calendar and folder downstream saw that the world no longer has
        // ends deleted (the deletes of the backfill's reconciliation, or live ones from before the gap).
        for (const [key, l] of last) {
          const slash = key.indexOf('/'); // ids have slashes of their own (people/c…)
          const family = key.slice(0, slash) as Family;
          const id = key.slice(slash + 1);
          if (!['contacts', 'calendars', 'folders'].includes(family)) continue;
          const gone = h.world.getRecord(expiredGrant, family, id)?.data === undefined;
          // Thrown, not false: the poll's time-out then says which object is off.
          if (gone !== String(l.value.event_type).endsWith('.deleted'))
            throw new Error(
              `${key}: ${gone ? 'deleted' : 'live'} in the world, last event ${String(l.value.event_type)}`,
            );
        }
        for (const [key, want] of revealable) {
          const family = key.split('/')[0] as Family;
          const got = last.get(key)?.value;
          if (got === undefined || String(got.event_type).endsWith('.deleted'))
            throw new Error(`${key}: revealable, last event ${String(got?.event_type)}`);
          if (
            JSON.stringify(comparable(family, got[FIELD[family]] as Record<string, unknown>)) !==
            JSON.stringify(want)
          )
            throw new Error(`${key}: not at its final state`);
        }
        return true;
      },
      { timeoutMs: 120_000, description: 'every revealable object at its final state' },
    );
    // Nothing twice, and the objects only the backfill could know say where they came from.
    expect([...ids.entries()].filter(([, n]) => n > 1)).toEqual([]);
    const backfilled = [...last.values()].filter((l) => l.value.origin === 'BACKFILL');
    expect(backfilled.length).toBeGreaterThanOrEqual(GAP_MESSAGES);
    // The four known objects deleted in the gap: deleted by the reconciliation, said so, counted.
    for (const o of deletedKnown) {
      const l = last.get(`${o.family}/${o.id}`);
      expect({ object: o, type: l?.value.event_type, origin: l?.value.origin }).toEqual({
        object: o,
        type: `${FIELD[o.family]}.deleted`,
        origin: 'BACKFILL',
      });
    }
    const reconciled = await registry
      .getSingleMetric('nylas_stream_backfill_reconciled_deletes_total')
      ?.get();
    expect((reconciled?.values ?? []).reduce((n, v) => n + v.value, 0)).toBeGreaterThanOrEqual(
      deletedKnown.length,
    );
    expect(dlq.records).toEqual([]);
  }, 300_000);

  it('a re-authentication within 72 h makes no list call (Nylas backfills by itself)', async () => {
    expect(await send('grant.expired', recentGrant)).toBe(1);
    for (let i = 0; i < 5; i++) await send('message.created', recentGrant);
    generator.advance(2 * 3600);
    const sent = await send('grant.updated', recentGrant); // grant.updated + Nylas's own backfill
    expect(sent).toBeGreaterThan(1);
    const grantEvents = () => grants.records.filter((r) => r.key?.toString() === recentGrant).length;
    await pollUntil(() => grantEvents() >= 2, { description: 'both grant events of the recent grant' });
    // The coordinator saw the re-authentication (the metric) and listed nothing.
    await pollUntil(
      async () => {
        const m = await registry.getSingleMetric('nylas_stream_backfill_not_requested_total')?.get();
        return (m?.values ?? []).some((v) => v.labels.why === 'within_horizon' && v.value >= 1);
      },
      { description: 'the re-authentication counted as within the horizon' },
    );
    expect(listCalls(recentGrant)).toEqual([]);
  }, 120_000);

  it('by hand: `nylas-stream backfill --execute` is run by the coordinator, and `--status` shows it done', async () => {
    const before = await finished('completed');
    const contacts = () =>
      collectors.contacts.records.filter((r) => r.key?.toString() === recentGrant).length;
    const contactsBefore = contacts();
    const env = { ...h.env, NYLAS_API_URI: h.api.url, LOG_LEVEL: 'silent' };
    const since = String(h.world.now() - DAY);
    const dry = await runCli(
      ['backfill', '--grant', recentGrant, '--since', since, '--objects', 'contacts'],
      env,
    );
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain(`GET /v3/grants/{grant_id}/contacts?limit=`);
    const run = await runCli(
      ['backfill', '--grant', recentGrant, '--since', since, '--objects', 'contacts', '--execute'],
      env,
    );
    expect(run.exitCode).toBe(0);
    await pollUntil(async () => (await finished('completed')) > before, {
      timeoutMs: 60_000,
      description: 'the manual backfill to complete',
    });
    // Every live contact of the grant is listed whole and emitted again, as a backfill.
    const live = h.world.liveIds(recentGrant, 'contacts').length;
    expect(live).toBeGreaterThan(0);
    await pollUntil(() => contacts() >= contactsBefore + live, { description: 'the contacts emitted' });
    const status = await runCli(['backfill', '--status', '--json'], env);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toContain(recentGrant);
    expect(status.stdout).toContain('completed');
  }, 120_000);

  it("a deleted grant's known contacts, calendars and folders are forgotten (tombstoned in the index)", async () => {
    const index = await h.collect([h.topics.knownObjects], 'read_committed');
    const mine = () => {
      const latest = new Map<string, Buffer | null>();
      for (const r of index.records)
        if (parseKnownObjectKey(r.key)?.grantId === recentGrant) latest.set(String(r.key), r.value);
      return latest;
    };
    // The by-hand backfill above emitted the grant's contacts: they are known.
    await pollUntil(() => [...mine().values()].filter((v) => v !== null).length > 0, {
      description: 'known objects of the grant',
    });
    expect(await send('grant.deleted', recentGrant)).toBe(1);
    await pollUntil(() => [...mine().values()].every((v) => v === null), {
      timeoutMs: 60_000,
      description: "the deleted grant's known objects tombstoned",
    });
    expect(mine().size).toBeGreaterThanOrEqual(h.world.liveIds(recentGrant, 'contacts').length);
  }, 120_000);
});
