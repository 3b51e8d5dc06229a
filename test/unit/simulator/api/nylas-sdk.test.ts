/**
 * The official `nylas` Node SDK (v8), pointed at the simulated API, works unchanged (issue 3, "REST API").
 */
import Nylas from 'nylas';
import { createWorld, type NylasApiServer, startNylasApi, type World } from '../../../../simulator';

const API_KEY = 'nyk_test_key';
let world: World;
let api: NylasApiServer;
let nylas: Nylas;

beforeAll(async () => {
  world = createWorld({ seed: 7, grants: 2, startTime: 1_723_821_985, initialObjects: { messages: 7 } });
  api = await startNylasApi({ world, apiKey: API_KEY });
  nylas = new Nylas({ apiKey: API_KEY, apiUri: api.url, timeout: 10 });
});
afterAll(async () => {
  await api.close();
});
beforeEach(() => {
  api.faults.clear();
  for (const id of world.grantIds) world.setGrantStatus(id, 'valid');
});

const grant = (): string => world.grantIds[0] as string;

describe('nylas SDK against the simulated REST API', () => {
  it('messages.find returns the full message, body included (§4.2)', async () => {
    const msgs = world.listObjects(grant(), 'messages');
    const target = msgs[0] as Record<string, unknown>;
    const res = await nylas.messages.find({ identifier: grant(), messageId: String(target.id) });
    expect(res.data.id).toBe(target.id);
    expect(res.data.grantId).toBe(grant());
    expect(res.data.body).toBe(target.body);
    expect(res.data.threadId).toBe(target.thread_id);
    expect(typeof res.requestId).toBe('string');
  });

  it('messages.find serves bodies over 1 MB whole (they are only truncated in notifications, §4.1)', async () => {
    world.upsertObject(grant(), 'messages', {
      id: 'big-1',
      grant_id: grant(),
      object: 'message',
      thread_id: 'big-1',
      date: 1_723_821_000,
      body: 'x'.repeat(1_200_000),
    });
    const res = await nylas.messages.find({ identifier: grant(), messageId: 'big-1' });
    expect(res.data.body?.length).toBe(1_200_000);
  });

  it('events.find needs calendarId and finds the event in that calendar (§4.2)', async () => {
    const ev = world.listObjects(grant(), 'events')[0] as Record<string, unknown>;
    const res = await nylas.events.find({
      identifier: grant(),
      eventId: String(ev.id),
      queryParams: { calendarId: String(ev.calendar_id) },
    });
    expect(res.data.id).toBe(ev.id);
    expect(res.data.calendarId).toBe(ev.calendar_id);
    await expect(
      nylas.events.find({ identifier: grant(), eventId: String(ev.id), queryParams: { calendarId: 'nope' } }),
    ).rejects.toMatchObject({ statusCode: 404, type: 'not_found_error' });
    const last = api.requests[api.requests.length - 1];
    expect(last).toMatchObject({ method: 'GET', status: 404 });
  });

  it('a missing calendar_id is a 400', async () => {
    const ev = world.listObjects(grant(), 'events')[0] as Record<string, unknown>;
    const res = await fetch(`${api.url}/v3/grants/${grant()}/events/${String(ev.id)}`, {
      headers: { Authorization: `Bearer ${API_KEY}` },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
  });

  it('list pages with limit and page_token ← next_cursor, newest message first (§7)', async () => {
    const all = world.listObjects(grant(), 'messages');
    const seen: string[] = [];
    let pages = 0;
    for await (const page of nylas.messages.list({ identifier: grant(), queryParams: { limit: 3 } })) {
      pages += 1;
      expect(page.data.length).toBeLessThanOrEqual(3);
      for (const m of page.data) seen.push(m.id);
    }
    expect(pages).toBe(Math.ceil(all.length / 3));
    expect(new Set(seen).size).toBe(all.length);
    const dates = seen.map((id) => Number(world.getObject(grant(), 'messages', id)?.date));
    expect([...dates].sort((a, b) => b - a)).toEqual(dates);
  });

  it('messages.list filters on received_after / received_before (§7)', async () => {
    const all = world.listObjects(grant(), 'messages').map((m) => Number(m.date));
    const pivot = [...all].sort((a, b) => a - b)[Math.floor(all.length / 2)] as number;
    const res = await nylas.messages.list({
      identifier: grant(),
      queryParams: { receivedAfter: pivot, limit: 200 },
    });
    expect(res.data.length).toBe(all.filter((d) => d >= pivot).length);
    expect(res.data.every((m) => m.date >= pivot)).toBe(true);
  });

  it('calendars, contacts, folders, threads and grants are served', async () => {
    const cals = await nylas.calendars.list({ identifier: grant() });
    expect(cals.data.length).toBeGreaterThan(0);
    const cal = await nylas.calendars.find({ identifier: grant(), calendarId: cals.data[0]!.id });
    expect(cal.data.id).toBe(cals.data[0]!.id);
    const contact = world.listObjects(grant(), 'contacts')[0] as Record<string, unknown>;
    // contact ids contain "/" (people/c…): the SDK URL-encodes them
    const c = await nylas.contacts.find({
      identifier: grant(),
      contactId: String(contact.id),
      queryParams: {},
    });
    expect(c.data.id).toBe(contact.id);
    const f = await nylas.folders.find({ identifier: grant(), folderId: 'INBOX' });
    expect(f.data.name).toBe('INBOX');
    const threads = await nylas.threads.list({ identifier: grant(), queryParams: { limit: 50 } });
    expect(threads.data.length).toBeGreaterThan(0);
    const g = await nylas.grants.find({ grantId: grant() });
    expect(g.data.grantStatus).toBe('valid');
    const gs = await nylas.grants.list();
    expect(gs.data.map((x) => x.id).sort()).toEqual([...world.grantIds].sort());
  });

  it('a deleted object is a 404 with the error envelope', async () => {
    world.upsertObject(grant(), 'messages', { id: 'gone-1', grant_id: grant(), object: 'message', date: 1 });
    world.deleteObject(grant(), 'messages', 'gone-1');
    await expect(nylas.messages.find({ identifier: grant(), messageId: 'gone-1' })).rejects.toMatchObject({
      statusCode: 404,
      type: 'not_found_error',
    });
  });

  it('an invalid grant answers 401 (§7); the grant itself still reads as invalid', async () => {
    world.setGrantStatus(grant(), 'invalid');
    const msg = world.listObjects(grant(), 'messages')[0] as Record<string, unknown>;
    await expect(
      nylas.messages.find({ identifier: grant(), messageId: String(msg.id) }),
    ).rejects.toMatchObject({
      statusCode: 401,
      type: 'unauthorized',
    });
    expect((await nylas.grants.find({ grantId: grant() })).data.grantStatus).toBe('invalid');
  });

  it('a wrong API key is a 401', async () => {
    const other = new Nylas({ apiKey: 'wrong', apiUri: api.url });
    await expect(other.grants.find({ grantId: grant() })).rejects.toMatchObject({ statusCode: 401 });
  });

  it('injected faults: 429 with Retry-After, 503, then success; counted per match', async () => {
    const msg = world.listObjects(grant(), 'messages')[0] as Record<string, unknown>;
    api.faults.enqueue({ match: { pathIncludes: '/messages/' }, status: 429, retryAfterSeconds: 7 });
    api.faults.enqueue({ match: { method: 'GET', pathIncludes: '/messages/' }, status: 503, times: 2 });
    const err = await nylas.messages
      .find({ identifier: grant(), messageId: String(msg.id) })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ statusCode: 429, type: 'rate_limit_error' });
    expect((err as { headers: Record<string, string> }).headers['retry-after']).toBe('7');
    for (let i = 0; i < 2; i++)
      await expect(
        nylas.messages.find({ identifier: grant(), messageId: String(msg.id) }),
      ).rejects.toMatchObject({
        statusCode: 503,
      });
    const ok = await nylas.messages.find({ identifier: grant(), messageId: String(msg.id) });
    expect(ok.data.id).toBe(msg.id);
  });

  it('injected 404-right-after-create, then the object appears', async () => {
    api.faults.notFoundAfterCreateMs = 60_000;
    world.upsertObject(grant(), 'messages', { id: 'fresh-1', grant_id: grant(), object: 'message', date: 2 });
    await expect(nylas.messages.find({ identifier: grant(), messageId: 'fresh-1' })).rejects.toMatchObject({
      statusCode: 404,
    });
    api.faults.notFoundAfterCreateMs = 0;
    expect((await nylas.messages.find({ identifier: grant(), messageId: 'fresh-1' })).data.id).toBe(
      'fresh-1',
    );
  });

  it('injected latency delays the answer', async () => {
    api.faults.latencyMs = 150;
    const t0 = performance.now();
    await nylas.grants.find({ grantId: grant() });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('select= returns only the chosen top-level fields (§4.2)', async () => {
    const msg = world.listObjects(grant(), 'messages')[0] as Record<string, unknown>;
    const res = await nylas.messages.find({
      identifier: grant(),
      messageId: String(msg.id),
      queryParams: { select: 'id,subject' } as never,
    });
    expect(Object.keys(res.data).sort()).toEqual(['id', 'subject']);
  });
});
