/**
 * The grant-expiry-long scenario (§7 beyond 72 hours) and its oracle, `listableState`: what a receiver
 * can recover through the list endpoints after Nylas sent no backfill.
 */
import {
  createWorld,
  type GeneratedNotification,
  type GeneratorOptions,
  grantExpiryLong,
  listableState,
  NotificationGenerator,
  type NylasObject,
  SCENARIOS,
  startNylasApi,
} from '../../../../simulator';

const START = 1_723_821_985;
const DAY = 86_400;

function generator(seed = 31, extra: Omit<GeneratorOptions, 'world'> = {}): NotificationGenerator {
  const world = createWorld({
    seed,
    grants: 3,
    startTime: START,
    initialObjects: { messages: 20, events: 6, contacts: 6, calendars: 3, labels: 2 },
  });
  return new NotificationGenerator({ world, ...extra });
}

const of = (ns: GeneratedNotification[], grantId: string) => ns.filter((n) => n.grantId === grantId);
const ids = (objects: NylasObject[]): string[] => objects.map((o) => String(o.id)).sort();

describe('grantExpiryLong', () => {
  it('A is invalid for 5 days while 250+ messages arrive and every kind changes; all of it is held', () => {
    const g = generator();
    const [a, b] = g.world.grantIds as [string, string];
    const run = grantExpiryLong(g);
    expect(run.a).toMatchObject({ grantId: a, expiredAt: START, reauthenticatedAt: START + 5 * DAY });
    expect(run.b).toMatchObject({ grantId: b, expiredAt: START + 60, reauthenticatedAt: START + 60 + DAY });
    expect(g.world.now()).toBe(run.a.reauthenticatedAt);

    const held = run.a.held;
    expect(held['message.created']).toBeGreaterThanOrEqual(250);
    expect(held['message.updated']).toBeGreaterThanOrEqual(10);
    expect(held['message.deleted']).toBeGreaterThanOrEqual(5);
    for (const t of ['event.created', 'event.updated', 'event.deleted', 'contact.updated', 'contact.deleted'])
      expect(held[t]).toBeGreaterThanOrEqual(2);
    for (const t of [
      'folder.created',
      'folder.updated',
      'folder.deleted',
      'calendar.created',
      'calendar.updated',
    ])
      expect(held[t]).toBeGreaterThanOrEqual(1);
    expect(held['calendar.deleted']).toBe(1); // this seed deletes one; others may fall back to an update
    expect(held['message.opened']).toBeUndefined(); // §7: still sent while invalid

    // Held means not notified: A's notifications are the expiry, opens, and the re-auth.
    const aTypes = of(run.notifications, a).map((n) => n.baseType);
    expect(aTypes[0]).toBe('grant.expired');
    expect(aTypes[aTypes.length - 1]).toBe('grant.updated');
    expect(new Set(aTypes.slice(1, -1))).toEqual(new Set(['message.opened']));
    const notified = new Set(run.notifications.map((n) => n.ref?.id).filter((id) => id !== undefined));
    const gapMessages = g.world
      .listObjects(a, 'messages', { withBodies: false })
      .filter((m) => Number(m.date) > run.a.expiredAt);
    expect(gapMessages.length).toBeGreaterThan(200);
    expect(gapMessages.every((m) => Number(m.date) < run.a.reauthenticatedAt)).toBe(true);
    expect(gapMessages.some((m) => notified.has(String(m.id)))).toBe(false);
    expect(g.changes.heldFor(a)).toEqual([]);
  });

  it("A's re-auth after 72 h is grant.updated alone; B's within 72 h is followed by backfill (§7)", () => {
    const g = generator(32);
    const [a, b] = g.world.grantIds as [string, string];
    const run = grantExpiryLong(g);

    const [aExpired] = of(run.notifications, a);
    expect(aExpired?.envelope.data.object).toMatchObject({ code: 25009, grant_updated_at: run.a.expiredAt });
    const aReauth = of(run.notifications, a).filter((n) => n.baseType === 'grant.updated');
    expect(aReauth).toHaveLength(1);
    expect(aReauth[0]?.envelope.time).toBe(run.a.reauthenticatedAt);
    expect(aReauth[0]?.envelope.data.object).toMatchObject({ code: 25027, reauthentication_flag: true });
    expect(run.notifications.indexOf(aReauth[0] as GeneratedNotification)).toBe(run.notifications.length - 1);
    expect(of(run.notifications, a).some((n) => n.backfill)).toBe(false);
    expect(g.world.getGrant(a)).toMatchObject({ grant_status: 'valid', updated_at: run.a.reauthenticatedAt });

    const bNotes = of(run.notifications, b);
    const bReauth = bNotes.findIndex((n) => n.baseType === 'grant.updated');
    expect(bNotes.slice(0, bReauth).map((n) => n.baseType)).toEqual(['grant.expired']);
    expect(bNotes[bReauth]?.envelope.time).toBe(run.b.reauthenticatedAt);
    const backfill = bNotes.slice(bReauth + 1);
    expect(backfill.length).toBeGreaterThan(0);
    expect(backfill.every((n) => n.backfill && n.envelope.time === run.b.reauthenticatedAt)).toBe(true);
    expect(backfill.some((n) => n.baseType === 'message.created')).toBe(true);
    // one notification per changed object, in its current state
    const refs = backfill.map((n) => `${n.ref?.kind}/${n.ref?.id}`);
    expect(new Set(refs).size).toBe(refs.length);
    expect(Object.values(run.b.held).reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(backfill.length);
  });

  it('is reproducible, and the gap scales (10 000 messages in 7 days)', () => {
    const one = grantExpiryLong(generator(33), { gapMessages: 300 });
    const two = grantExpiryLong(generator(33), { gapMessages: 300 });
    expect(two.notifications.map((n) => n.envelope.id)).toEqual(one.notifications.map((n) => n.envelope.id));
    expect(two.a.held).toEqual(one.a.held);

    const g = generator(34);
    const a = g.world.grantIds[0] as string;
    const big = grantExpiryLong(g, { gapMessages: 10_000, gapDays: 7, shortGapHours: 48 });
    expect(big.a.reauthenticatedAt - big.a.expiredAt).toBe(7 * DAY);
    expect(big.b.reauthenticatedAt - big.b.expiredAt).toBe(48 * 3600);
    expect(big.a.held['message.created']).toBeGreaterThanOrEqual(10_000);
    const listable = listableState(g.world, a, { after: big.a.expiredAt, before: big.a.reauthenticatedAt });
    const deleted = big.a.held['message.deleted'] as number;
    expect(listable.messages.length).toBeGreaterThanOrEqual(10_000 - deleted);
    expect(of(big.notifications, a).some((n) => n.backfill)).toBe(false);
  });

  it('refuses a gap within 72 h for A, a gap of 72 h or more for B, and too few or invalid grants', () => {
    expect(() => grantExpiryLong(generator(), { gapDays: 3 })).toThrow(/gapDays/);
    expect(() => grantExpiryLong(generator(), { shortGapHours: 72 })).toThrow(/shortGapHours/);
    expect(() => grantExpiryLong(generator(), { gapMessages: -1 })).toThrow(/gapMessages/);
    const g = generator();
    expect(() => grantExpiryLong(g, { grantB: g.world.grantIds[0] })).toThrow(/two distinct grants/);
    g.world.setGrantStatus(g.world.grantIds[1] as string, 'invalid');
    expect(() => grantExpiryLong(g)).toThrow(/must be valid/);
  });
});

describe('listableState: what the list endpoints reveal for a window (§7)', () => {
  it('new messages still there, events updated in it (cancelled too), every calendar, contact, folder', () => {
    const g = generator(35);
    const a = g.world.grantIds[0] as string;
    const run = grantExpiryLong(g, { gapMessages: 1000 }); // enough event updates to cancel some
    const window = { after: run.a.expiredAt, before: run.a.reauthenticatedAt };
    const view = listableState(g.world, a, window);
    const final = g.world.finalState().filter((s) => s.grantId === a);
    const inWindow = (v: unknown) => Number(v) >= window.after && Number(v) <= window.before;

    expect(view.messages.length).toBeGreaterThan(200);
    expect(view.messages.every((m) => inWindow(m.date) && m.body === undefined)).toBe(true);
    // an old message changed during the gap is invisible to the time-filtered list
    const oldChanged = final.filter(
      (s) => s.kind === 'messages' && !s.deleted && !inWindow(s.state?.date) && s.revision > 1,
    );
    expect(oldChanged.length).toBeGreaterThan(0);
    expect(ids(view.messages)).not.toEqual(expect.arrayContaining(oldChanged.map((s) => s.id)));
    // deleted objects are simply absent
    const deleted = new Set(final.filter((s) => s.deleted).map((s) => s.id));
    expect(deleted.size).toBeGreaterThan(0);
    for (const list of [view.messages, view.events, view.calendars, view.contacts, view.folders])
      expect(list.some((o) => deleted.has(String(o.id)))).toBe(false);

    expect(view.events.every((e) => inWindow(e.updated_at))).toBe(true);
    const eventsInWindow = final.filter(
      (s) => s.kind === 'events' && !s.deleted && inWindow(s.state?.updated_at),
    );
    expect(ids(view.events)).toEqual(eventsInWindow.map((s) => s.id).sort());
    expect(view.events.some((e) => e.status === 'cancelled')).toBe(true); // show_cancelled=true
    expect(ids(view.calendars)).toEqual(ids(g.world.listObjects(a, 'calendars')));
    expect(ids(view.contacts)).toEqual(ids(g.world.listObjects(a, 'contacts')));
    expect(ids(view.folders)).toEqual(ids(g.world.listObjects(a, 'folders')));
    expect(() => listableState(g.world, 'nope', window)).toThrow(/unknown grant/);
  });

  it('agrees with paging the simulated API, whose Date is the re-authentication time', async () => {
    const g = generator(36);
    const world = g.world;
    const a = world.grantIds[0] as string;
    const run = grantExpiryLong(g, { gapMessages: 450 });
    const window = { after: run.a.expiredAt, before: run.a.reauthenticatedAt };
    const api = await startNylasApi({ world, apiKey: 'k' });
    try {
      const dates = new Set<string | null>();
      const list = async (path: string, query: Record<string, string | number | boolean> = {}) => {
        const out: NylasObject[] = [];
        let cursor: string | null = null;
        do {
          const params = new URLSearchParams({ ...query, limit: '200' } as Record<string, string>);
          if (cursor) params.set('page_token', cursor);
          const res = await fetch(`${api.url}/v3/grants/${a}/${path}?${params}`, {
            headers: { Authorization: 'Bearer k' },
          });
          expect(res.status).toBe(200);
          dates.add(res.headers.get('date'));
          const body = (await res.json()) as { data: NylasObject[]; next_cursor: string | null };
          out.push(...body.data);
          cursor = body.next_cursor;
        } while (cursor);
        return out;
      };
      const messages = await list('messages', {
        received_after: window.after,
        received_before: window.before,
      });
      const calendars = await list('calendars');
      const events: NylasObject[] = [];
      for (const c of calendars)
        events.push(
          ...(await list('events', {
            calendar_id: String(c.id),
            updated_after: window.after,
            updated_before: window.before,
            show_cancelled: true,
          })),
        );
      const contacts = await list('contacts');
      const folders = await list('folders');

      const view = listableState(world, a, window);
      expect(ids(messages)).toEqual(ids(view.messages));
      expect(ids(events)).toEqual(ids(view.events));
      expect(ids(calendars)).toEqual(ids(view.calendars));
      expect(ids(contacts)).toEqual(ids(view.contacts));
      expect(ids(folders)).toEqual(ids(view.folders));
      expect(messages.length).toBeGreaterThan(400); // three pages of 200
      expect([...dates]).toEqual([new Date(run.a.reauthenticatedAt * 1000).toUTCString()]);
      const messageCalls = api.requests.filter((r) => r.path === `/v3/grants/${a}/messages`);
      expect(messageCalls).toHaveLength(3);
      expect(messageCalls.every((r) => r.query.received_after === String(window.after))).toBe(true);
      expect(messageCalls.slice(1).every((r) => r.query.page_token !== undefined)).toBe(true);
    } finally {
      await api.close();
    }
  });
});

describe('the grant-expiry-long scenario', () => {
  it('scales the gap with count and fills up to count with ordinary traffic', () => {
    const g = generator(37, { weights: { 'grant.expired': 0, 'grant.updated': 0 } });
    const a = g.world.grantIds[0] as string;
    const scenario = SCENARIOS['grant-expiry-long'];
    const out = [...(scenario?.generate({ generator: g, count: 400 }) ?? [])];
    expect(out).toHaveLength(400);
    const aNotes = of(out, a);
    const expired = aNotes.find((n) => n.baseType === 'grant.expired') as GeneratedNotification;
    const reauth = aNotes.findIndex((n) => n.baseType === 'grant.updated');
    expect(aNotes[reauth]?.envelope.time).toBe(expired.envelope.time + 5 * DAY);
    expect(aNotes.slice(reauth + 1).some((n) => n.backfill)).toBe(false);
    expect(out.indexOf(aNotes[reauth] as GeneratedNotification)).toBeLessThan(50); // then ordinary traffic
    const view = listableState(g.world, a, {
      after: expired.envelope.time,
      before: aNotes[reauth]?.envelope.time as number,
    });
    // 400 received in the gap, a few deleted since (in the gap or by the ordinary traffic after it)
    expect(view.messages.length).toBeGreaterThan(350);
    expect(view.messages.length).toBeLessThanOrEqual(400);
  });
});
