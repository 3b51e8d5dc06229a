/**
 * The simulated API's own behaviour beyond what the SDK test covers: Nylas's clock on every response,
 * the request log, and faults aimed at list calls of one grant.
 */
import { createWorld, type NylasApiServer, startNylasApi, type World } from '../../../../simulator';

const API_KEY = 'nyk_test_key';
const START = 1_723_821_985;
let world: World;
let api: NylasApiServer;

beforeEach(async () => {
  world = createWorld({ seed: 3, grants: 2, startTime: START, initialObjects: { messages: 5 } });
  api = await startNylasApi({ world, apiKey: API_KEY, maxRecordedRequests: 20 });
});
afterEach(async () => {
  await api.close();
});

const grant = (i = 0): string => world.grantIds[i] as string;
const get = (path: string, apiKey = API_KEY): Promise<Response> =>
  fetch(`${api.url}${path}`, { headers: { Authorization: `Bearer ${apiKey}` } });

describe('Date: Nylas clock on every response', () => {
  it('is the world time in RFC 7231 format, and follows the world, not the wall clock', async () => {
    const first = await get(`/v3/grants/${grant()}/messages?limit=2`);
    expect(first.status).toBe(200);
    expect(first.headers.get('date')).toBe('Fri, 16 Aug 2024 15:26:25 GMT');
    expect(Date.parse(first.headers.get('date') as string) / 1000).toBe(START);
    world.advance(5 * 86_400 + 7);
    const later = await get(`/v3/grants/${grant()}`);
    expect(Date.parse(later.headers.get('date') as string) / 1000).toBe(world.now());
    expect(world.now()).toBe(START + 5 * 86_400 + 7);
  });

  it('is on error answers too (bad key, injected fault, invalid grant, unknown route, gzip)', async () => {
    world.advance(42);
    const expected = new Date(world.now() * 1000).toUTCString();
    api.faults.enqueue({ match: { list: true }, status: 429, retryAfterSeconds: 2 });
    const answers = [
      await get(`/v3/grants/${grant()}`, 'wrong'),
      await get(`/v3/grants/${grant()}/events?calendar_id=x`),
      await get('/v3/nope'),
    ];
    world.setGrantStatus(grant(1), 'invalid');
    answers.push(await get(`/v3/grants/${grant(1)}/contacts`));
    answers.push(
      await fetch(`${api.url}/v3/grants/${grant()}/messages?limit=5`, {
        headers: { Authorization: `Bearer ${API_KEY}`, 'Accept-Encoding': 'gzip' },
      }),
    );
    answers.push(await get('/v3/webhooks'));
    expect(answers.map((r) => r.status)).toEqual([401, 429, 404, 401, 200, 200]);
    for (const r of answers) expect(r.headers.get('date')).toBe(expected);
    expect(answers[4]?.headers.get('content-encoding')).toBe('gzip');
  });
});

describe('request log', () => {
  it('records the query, raw and decoded (first value of a repeated parameter)', async () => {
    await get(`/v3/grants/${grant()}/messages?received_after=100&received_before=200&limit=200`);
    await get(`/v3/grants/${grant()}/contacts?select=id%2Cgiven_name&limit=1&limit=9`);
    await get(`/v3/grants/${grant()}`);
    const [list, contacts, one] = api.requests;
    expect(list).toMatchObject({
      method: 'GET',
      path: `/v3/grants/${grant()}/messages`,
      status: 200,
      rawQuery: 'received_after=100&received_before=200&limit=200',
      query: { received_after: '100', received_before: '200', limit: '200' },
    });
    expect(contacts?.query).toEqual({ select: 'id,given_name', limit: '1' });
    expect(contacts?.rawQuery).toBe('select=id%2Cgiven_name&limit=1&limit=9');
    expect(one).toMatchObject({ rawQuery: '', query: {} });
  });

  it('stays bounded (oldest dropped)', async () => {
    for (let i = 0; i < 25; i++) await get(`/v3/grants/${grant()}?i=${i}`);
    expect(api.requests.length).toBeLessThanOrEqual(20);
    expect(api.requests[api.requests.length - 1]?.query).toEqual({ i: '24' });
  });
});

describe('faults on list calls', () => {
  it("429 with Retry-After on one grant's list calls, `times` of them; by-id calls untouched", async () => {
    const [msg] = world.listObjects(grant(), 'messages');
    api.faults.enqueue({
      match: { list: true, grantId: grant() },
      status: 429,
      retryAfterSeconds: 30,
      times: 2,
    });
    const byId = await get(`/v3/grants/${grant()}/messages/${String(msg?.id)}`);
    expect(byId.status).toBe(200);
    const other = await get(`/v3/grants/${grant(1)}/messages`);
    expect(other.status).toBe(200);
    // the grant named by email is the same grant
    const email = world.getGrant(grant())?.email as string;
    const answers = [
      await get(`/v3/grants/${grant()}/messages?limit=200`),
      await get(`/v3/grants/${encodeURIComponent(`email:${email}`)}/folders`),
      await get(`/v3/grants/${grant()}/messages?limit=200`),
    ];
    expect(answers.map((r) => r.status)).toEqual([429, 429, 200]);
    expect(answers.map((r) => r.headers.get('retry-after'))).toEqual(['30', '30', null]);
    expect(await answers[0]?.json()).toMatchObject({ error: { type: 'rate_limit_error' } });
    const lists = api.requests.filter((r) => r.path.endsWith('/messages') || r.path.endsWith('/folders'));
    expect(lists.map((r) => r.status)).toEqual([200, 429, 429, 200]);
  });
});
