/**
 * The webhooks management API (§6), through the official nylas SDK where it has a method, and raw
 * HTTP where it does not (mock-payload, send-test-event, the Python SDK's rotate alias).
 */
import Nylas from 'nylas';
import {
  createWorld,
  MOCK_WEBHOOK_SECRET,
  type NylasApiServer,
  signBody,
  startNylasApi,
  TEST_TOOL_TRIGGERS,
} from '../../../../simulator';
import { type ScriptedReceiver, startScriptedReceiver } from '../../../helpers/scripted-webhook-receiver';

const API_KEY = 'nyk_mgmt';
let api: NylasApiServer;
let nylas: Nylas;
let receiver: ScriptedReceiver;

beforeAll(async () => {
  api = await startNylasApi({ world: createWorld({ seed: 11, grants: 1 }), apiKey: API_KEY });
  nylas = new Nylas({ apiKey: API_KEY, apiUri: api.url });
});
afterAll(async () => {
  await api.close();
});
beforeEach(async () => {
  receiver = await startScriptedReceiver();
  for (const d of api.webhooks.list()) api.webhooks.delete(d.id);
});
afterEach(async () => {
  await receiver.close();
});

async function raw(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function create(url = receiver.url) {
  return nylas.webhooks.create({
    requestBody: {
      triggerTypes: ['message.created', 'grant.expired'] as never,
      webhookUrl: url,
      description: 'd1',
    },
  });
}

describe('webhooks management API', () => {
  it('create runs the challenge GET synchronously and returns the secret once (§6.1, §2.2)', async () => {
    const res = await create();
    const challenges = receiver.received.filter((r) => r.method === 'GET');
    expect(challenges).toHaveLength(1);
    const value = new URL(challenges[0]!.url, 'http://x').searchParams.get('challenge');
    expect(value).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.data).toMatchObject({
      triggerTypes: ['message.created', 'grant.expired'],
      webhookUrl: receiver.url,
      status: 'active',
      description: 'd1',
    });
    expect(res.data.webhookSecret).toMatch(/^[\w-]{16,}$/);
    expect(typeof res.data.createdAt).toBe('number');

    // get, list and update never show the secret (§6.1)
    const got = await nylas.webhooks.find({ webhookId: res.data.id });
    expect(got.data).not.toHaveProperty('webhookSecret');
    const list = await nylas.webhooks.list();
    expect(list.data.map((w) => w.id)).toEqual([res.data.id]);
    expect(list.data[0]).not.toHaveProperty('webhookSecret');
  });

  it.each(['status-404', 'wrong-body', 'json-wrapped', 'chunked'] as const)(
    'create fails with 400 / 70005 when the challenge answer is %s, and creates nothing',
    async (mode) => {
      receiver.challengeMode = mode;
      const err = await create().catch((e: unknown) => e);
      expect(err).toMatchObject({ statusCode: 400, type: '70005' });
      expect((err as Error).message).toMatch(/^unable\.verify\.webhook_url : /);
      if (mode === 'status-404') expect((err as Error).message).toContain('status is not ok, got 404');
      expect(api.webhooks.list()).toHaveLength(0);
    },
  );

  it('create refuses unknown triggers, contact.created (§9 #6) and a URL already in use (§2.1)', async () => {
    expect(
      (await raw('POST', '/v3/webhooks', { trigger_types: ['contact.created'], webhook_url: receiver.url }))
        .status,
    ).toBe(400);
    expect(
      (await raw('POST', '/v3/webhooks', { trigger_types: ['nope'], webhook_url: receiver.url })).status,
    ).toBe(400);
    expect((await raw('POST', '/v3/webhooks', { trigger_types: ['event.created'] })).status).toBe(400);
    await create();
    const dup = await raw('POST', '/v3/webhooks', {
      trigger_types: ['event.created'],
      webhook_url: receiver.url,
    });
    expect(dup.status).toBe(400);
  });

  it('update is partial; pausing needs no challenge; reactivating re-runs it (§6.2, §2.4)', async () => {
    const { data } = await create();
    const paused = await nylas.webhooks.update({
      webhookId: data.id,
      requestBody: { status: 'pause' } as never,
    });
    expect(paused.data).toMatchObject({
      status: 'pause',
      description: 'd1',
      triggerTypes: ['message.created', 'grant.expired'],
    });
    expect(paused.data).not.toHaveProperty('webhookSecret');
    const gets = (): number => receiver.received.filter((r) => r.method === 'GET').length;
    expect(gets()).toBe(1);

    receiver.challengeMode = 'status-404';
    await expect(
      nylas.webhooks.update({ webhookId: data.id, requestBody: { status: 'active' } as never }),
    ).rejects.toMatchObject({ statusCode: 400, type: '70005' });
    expect(api.webhooks.get(data.id).status).toBe('pause');

    receiver.challengeMode = 'echo';
    const active = await nylas.webhooks.update({
      webhookId: data.id,
      requestBody: { status: 'active' } as never,
    });
    expect(active.data.status).toBe('active');
    expect(gets()).toBe(3);

    // `inactive` (DOC-NOTIF, CLI) is taken as `pause` (§9 #4)
    const inactive = await raw('PUT', `/v3/webhooks/${data.id}`, { status: 'inactive' });
    expect(inactive.json).toMatchObject({ data: { status: 'pause' } });
    const described = await nylas.webhooks.update({ webhookId: data.id, requestBody: { description: 'd2' } });
    expect(described.data).toMatchObject({ description: 'd2', status: 'pause' });
  });

  it('rotate-secret returns a new secret (OAS route and the Python SDK alias, §6.3 / §9 #5)', async () => {
    const { data } = await create();
    const r1 = await nylas.webhooks.rotateSecret({ webhookId: data.id });
    expect(r1.data.webhookSecret).toBeDefined();
    expect(r1.data.webhookSecret).not.toBe(data.webhookSecret);
    const r2 = await raw('PUT', `/v3/webhooks/${data.id}/rotate-secret`);
    expect(r2.status).toBe(200);
    expect((r2.json.data as { webhook_secret: string }).webhook_secret).not.toBe(r1.data.webhookSecret);
    expect(api.webhooks.handle(data.id).secret).toBe(
      (r2.json.data as { webhook_secret: string }).webhook_secret,
    );
  });

  it('delete answers {status: success}; an unknown id is 400 / 70000 (§6.2)', async () => {
    const { data } = await create();
    const del = await nylas.webhooks.destroy({ webhookId: data.id });
    expect(del).toMatchObject({ data: { status: 'success' } });
    await expect(nylas.webhooks.find({ webhookId: data.id })).rejects.toMatchObject({
      statusCode: 400,
      type: '70000',
    });
  });

  it('ip-addresses (§6.4, §9 #12)', async () => {
    const res = await nylas.webhooks.ipAddresses();
    expect(res.data.ipAddresses).toEqual(['127.0.0.1']);
    expect(typeof res.data.updatedAt).toBe('number');
  });

  it.each(TEST_TOOL_TRIGGERS)(
    'mock-payload builds a %s notification without delivering it (§6.5)',
    async (trigger) => {
      const res = await raw('POST', '/v3/webhooks/mock-payload', { trigger_type: trigger });
      expect(res.status).toBe(200);
      const n = res.json.data as Record<string, unknown>;
      expect(n).toMatchObject({ specversion: '1.0', type: trigger, webhook_delivery_attempt: 1 });
      expect(n.data).toHaveProperty('object');
      if (trigger.endsWith('.truncated'))
        expect((n.data as { object: object }).object).not.toHaveProperty('body');
      expect(receiver.received).toHaveLength(0);
    },
  );

  it('mock-payload refuses triggers the test tools do not accept', async () => {
    expect((await raw('POST', '/v3/webhooks/mock-payload', { trigger_type: 'message.deleted' })).status).toBe(
      400,
    );
  });

  it('send-test-event POSTs a payload signed with mock-webhook-secret (§6.6)', async () => {
    const res = await raw('POST', '/v3/webhooks/send-test-event', {
      trigger_type: 'event.created',
      webhook_url: receiver.url,
    });
    expect(res).toMatchObject({ status: 200, json: { data: 'success' } });
    const [post] = receiver.received;
    expect(post?.headers['x-nylas-signature']).toBe(signBody(post!.body, MOCK_WEBHOOK_SECRET));
    expect(JSON.parse(post!.body.toString())).toMatchObject({ type: 'event.created' });

    receiver.fallback = { status: 500 };
    const failed = await raw('POST', '/v3/webhooks/send-test-event', {
      trigger_type: 'event.created',
      webhook_url: receiver.url,
    });
    expect(failed.status).toBe(400);
  });

  it('destinationsFor routes delivered suffix variants by prefix and skips paused destinations', async () => {
    const { data } = await create();
    expect(
      api.webhooks.destinationsFor('message.created.cleaned.transformed.truncated').map((d) => d.id),
    ).toEqual([data.id]);
    expect(api.webhooks.destinationsFor('message.updated')).toHaveLength(0);
    api.webhooks.setStatus(data.id, 'pause');
    expect(api.webhooks.destinationsFor('message.created')).toHaveLength(0);
  });

  it('management calls need the API key', async () => {
    const res = await fetch(`${api.url}/v3/webhooks`);
    expect(res.status).toBe(401);
  });
});
