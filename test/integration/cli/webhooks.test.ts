/**
 * `nylas-stream webhooks …` against the simulator's management API, with a running ingress answering
 * the challenge: create installs the secret in the ingress's secrets file; list/get/update/delete go
 * through the SDK; rotate-secret holds the destination (503s Nylas retries), then installs the new
 * secret beside the old one for an overlap and retires the old, so notifications flowing through a
 * rotation see no 401; --no-hold installs it beside the old one; test makes Nylas deliver a test event to the ingress.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { loadIngressConfig } from '../../../ingress/config';
import { type RunningIngress, startIngress } from '../../../ingress/index';
import { parseSecretsText } from '../../../ingress/secrets';
import { loadCommonConfig } from '../../../lib/config';
import { silentLogger } from '../../../lib/logger';
import { createMetricsRegistry } from '../../../lib/metrics';
import { ensureTopics, topicPlan } from '../../../lib/topics';
import {
  createWorld,
  type NylasApiServer,
  SIGNATURE_HEADER,
  signBody,
  startNylasApi,
} from '../../../simulator/index';
import { runCli } from '../../helpers/cli';
import { pollUntil, testKafka } from '../../helpers/kafka';
import { uniqueTopicEnv } from '../../helpers/topic-env';

describe('webhooks', () => {
  const topicEnv = uniqueTopicEnv('webhooks', 1);
  const dir = mkdtempSync(join(tmpdir(), 'webhooks-cli-'));
  const secretsFile = join(dir, 'nylas-webhook-secrets.json');
  const apiKey = 'nyk_test_webhooks_cli';
  let admin: Admin;
  let api: NylasApiServer;
  let ingress: RunningIngress;
  let env: Record<string, string>;

  beforeAll(async () => {
    const common = loadCommonConfig({ ...process.env, ...topicEnv, LOG_LEVEL: 'silent' });
    admin = testKafka(common).admin();
    await admin.connect();
    await ensureTopics(admin, topicPlan(common.topics));
    ingress = await startIngress(
      loadIngressConfig({
        ...process.env,
        ...topicEnv,
        LOG_LEVEL: 'silent',
        INGRESS_PORT: '0',
        INGRESS_HOST: '127.0.0.1',
        NYLAS_WEBHOOK_SECRETS_FILE: secretsFile,
        NYLAS_WEBHOOK_SECRETS_RELOAD_MS: '100',
        INGRESS_ACCEPT_MOCK_SECRET: 'true',
      }),
      {
        logger: silentLogger(),
        registry: createMetricsRegistry({ service: 'ingress', collectDefaults: false }),
      },
    );
    api = await startNylasApi({
      world: createWorld({ seed: 7, grants: 1, applicationId: 'app-webhooks' }),
      apiKey,
    });
    env = {
      NYLAS_API_URI: api.url,
      NYLAS_API_KEY: apiKey,
      NYLAS_WEBHOOK_SECRETS_FILE: secretsFile,
      // The ingress above re-reads every 100 ms; the default hold is twice that plus a second.
      NYLAS_WEBHOOK_SECRETS_RELOAD_MS: '100',
      LOG_LEVEL: 'silent',
    };
  });
  afterAll(async () => {
    await api?.close();
    await ingress?.stop();
    await admin
      .deleteTopics({ topics: topicPlan(loadCommonConfig({ ...topicEnv }).topics).map((s) => s.name) })
      .catch(() => undefined);
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  const fileSecrets = () => parseSecretsText(readFileSync(secretsFile, 'utf8'));

  /** A notification as Nylas would POST it, signed with `secret`; resolves to the ingress's status. */
  function deliver(secret: string, n: number): Promise<number> {
    return signed(secret, n)();
  }

  /** A notification signed with `secret` now, POSTed when the returned function is called. */
  function signed(secret: string, n: number): () => Promise<number> {
    const body = JSON.stringify({
      specversion: '1.0',
      type: 'message.created',
      source: '/google/emails/realtime',
      id: `webhooks-cli-${n}-${Date.now()}`,
      time: Math.floor(Date.now() / 1000),
      webhook_delivery_attempt: 1,
      data: {
        application_id: 'app-webhooks',
        object: { id: `m${n}`, grant_id: 'grant-w', object: 'message' },
      },
    });
    const signature = signBody(body, secret);
    return async () => {
      const res = await fetch(`${ingress.url}/webhooks/nylas`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
        body,
      });
      await res.arrayBuffer();
      return res.status;
    };
  }

  let id = '';

  it('create: Nylas challenges the running ingress, and the secret lands in the secrets file', async () => {
    const r = await runCli(
      [
        'webhooks',
        'create',
        '--url',
        `${ingress.url}/webhooks/nylas`,
        '--triggers',
        'message.created,message.updated',
        '--description',
        'cli test',
        '--json',
      ],
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    id = (JSON.parse(r.stdout.split('\n')[0] as string) as { id: string }).id;
    expect(r.stdout).toContain(
      `webhook secret written to ${secretsFile} for destination "default" (1 secret(s) accepted there`,
    );
    const secret = api.webhooks.handle(id).secret;
    expect(fileSecrets()).toEqual({ default: [secret] });
    expect(r.stdout).not.toContain(secret);
    // The ingress picks the file up without a restart.
    await pollUntil(async () => (await deliver(secret, 1)) === 200, {
      description: 'the ingress to accept the new secret',
    });
  });

  it('create fails with the challenge explained when nothing answers at the URL', async () => {
    const r = await runCli(
      ['webhooks', 'create', '--url', `${ingress.url}/nowhere`, '--triggers', 'message.created'],
      env,
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Nylas API 400 .*unable\.verify\.webhook_url.*the ingress must be running/);
  });

  it('list, get and update go through the SDK', async () => {
    const list = await runCli(['webhooks', 'list'], env);
    expect(list.stdout).toMatch(
      new RegExp(`${id}\\s+active\\s+default\\s+2\\s+${ingress.url}/webhooks/nylas\\s+cli test`),
    );
    const get = await runCli(['webhooks', 'get', id], env);
    expect(JSON.parse(get.stdout)).toEqual(
      expect.objectContaining({
        id,
        webhook_url: `${ingress.url}/webhooks/nylas`,
        trigger_types: ['message.created', 'message.updated'],
      }),
    );
    expect(get.stdout).not.toContain('secret');

    const paused = await runCli(
      ['webhooks', 'update', id, '--status', 'pause', '--description', 'paused'],
      env,
    );
    expect(JSON.parse(paused.stdout)).toEqual(
      expect.objectContaining({ status: 'pause', description: 'paused' }),
    );
    const active = await runCli(
      ['webhooks', 'update', id, '--status', 'active', '--triggers', 'message.created'],
      env,
    );
    expect(active.exitCode).toBe(0);
    expect(JSON.parse(active.stdout)).toEqual(
      expect.objectContaining({ status: 'active', trigger_types: ['message.created'] }),
    );

    const missing = await runCli(['webhooks', 'get', 'no-such-id'], env);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('destination.id.not.found');
  });

  it('rotate-secret while notifications flow: not a single 401, every notification delivered', async () => {
    // Nylas's side: each notification signed with the destination's secret of the moment, a 503
    // retried (re-signed), anything else final. Retries come after 50 ms here instead of minutes.
    const finals: number[] = [];
    let sawHold = false;
    const deliverLikeNylas = async (n: number): Promise<void> => {
      for (let attempt = 0; attempt < 200; attempt++) {
        const status = await deliver(api.webhooks.handle(id).secret, n);
        if (status !== 503) {
          finals.push(status);
          return;
        }
        sawHold = true;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      finals.push(503);
    };
    let flowing = true;
    const inFlight: Promise<void>[] = [];
    const flow = (async () => {
      for (let n = 100; flowing; n++) {
        inFlight.push(deliverLikeNylas(n));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const stopFlow = async () => {
      // Enough notifications, whatever the machine's speed: the rotation itself may take less time than
      // 50 of them at 20 ms apart on an idle machine, or more under load.
      await pollUntil(() => inFlight.length > 50, { description: 'more than 50 notifications sent' });
      flowing = false;
      await flow;
      await Promise.all(inFlight);
    };
    const oldSecret = api.webhooks.handle(id).secret;
    const r = await runCli(['webhooks', 'rotate-secret', id], env).finally(async () => {
      // Keep the flow going through the rotation, then drain it whatever happened.
      await pollUntil(async () => (await deliver(api.webhooks.handle(id).secret, 99)) === 200, {
        description: 'the current secret to be accepted',
      }).finally(stopFlow);
    });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('holding destination "default" for 1200 ms');
    const newSecret = api.webhooks.handle(id).secret;
    expect(newSecret).not.toBe(oldSecret);
    expect(fileSecrets()).toEqual({ default: [newSecret] });
    await pollUntil(async () => (await deliver(newSecret, 99)) === 200, {
      description: 'the new secret to be accepted',
    });
    flowing = false;
    await flow;
    await Promise.all(inFlight);

    expect(sawHold).toBe(true);
    expect(finals.length).toBeGreaterThan(50);
    expect(finals.filter((s) => s !== 200)).toEqual([]);
    expect(r.stdout).toContain(
      'retired 1 old secret(s) of destination "default" (1 secret(s) accepted there)',
    );
    await pollUntil(async () => (await deliver(oldSecret, 98)) === 401, {
      description: 'the old secret to be refused once retired',
    });
  });

  it('rotate-secret: a delivery signed with the old secret just before the rotation and arriving after it is accepted', async () => {
    // Nylas signed this one before the rotation; it reaches the ingress only once the new secret is in
    // (a slow network or event loop). Without the overlap it got a 401, which Nylas never retries.
    const oldSecret = api.webhooks.handle(id).secret;
    const late = signed(oldSecret, 40);
    const running = runCli(['webhooks', 'rotate-secret', id, '--hold-for', '3s'], env);
    await pollUntil(() => api.webhooks.handle(id).secret !== oldSecret, {
      description: 'Nylas to rotate the secret',
    });
    const newSecret = api.webhooks.handle(id).secret;
    await pollUntil(async () => (await deliver(newSecret, 41)) === 200, {
      description: 'the ingress to accept the new secret',
    });
    expect(await late()).toBe(200);
    const r = await running;
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('beside the old one for 3000 ms');
    expect(fileSecrets()).toEqual({ default: [newSecret] });
    await pollUntil(async () => (await deliver(oldSecret, 42)) === 401, {
      description: 'the old secret to be refused once retired',
    });
  });

  it('rotate-secret --no-hold: old and new both accepted until retire-secrets removes the old one', async () => {
    const oldSecret = api.webhooks.handle(id).secret;
    const r = await runCli(['webhooks', 'rotate-secret', id, '--no-hold'], env);
    expect(r.exitCode).toBe(0);
    const newSecret = api.webhooks.handle(id).secret;
    expect(fileSecrets()).toEqual({ default: [oldSecret, newSecret] });
    expect(r.stdout).toContain('(2 secret(s) accepted there');
    expect(r.stdout).toContain('webhooks retire-secrets --destination default');

    await pollUntil(async () => (await deliver(newSecret, 2)) === 200, {
      description: 'the new secret to be accepted',
    });
    const statuses = await Promise.all(
      [0, 1, 2, 3].map((i) => deliver(i % 2 === 0 ? newSecret : oldSecret, 10 + i)),
    );
    expect(statuses).toEqual([200, 200, 200, 200]);

    const retire = await runCli(['webhooks', 'retire-secrets', '--destination', 'default'], env);
    expect(retire.stdout).toContain('retired 1 old secret(s) of destination "default"');
    expect(fileSecrets()).toEqual({ default: [newSecret] });
    await pollUntil(async () => (await deliver(oldSecret, 20)) === 401, {
      description: 'the old secret to be refused',
    });
    expect(await deliver(newSecret, 21)).toBe(200);
  });

  it('rotate-secret refuses without a secrets file (the new secret would have nowhere to go)', async () => {
    const before = api.webhooks.handle(id).secret;
    const r = await runCli(['webhooks', 'rotate-secret', id], {
      ...env,
      NYLAS_WEBHOOK_SECRETS_FILE: undefined,
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('NYLAS_WEBHOOK_SECRETS_FILE is not set');
    expect(api.webhooks.handle(id).secret).toBe(before);
  });

  it('test: Nylas delivers a test event (mock secret) that the ingress accepts; --mock-payload prints one', async () => {
    const r = await runCli(['webhooks', 'test', id, '--trigger', 'message.created'], env);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(
      `Nylas delivered a test message.created notification to ${ingress.url}/webhooks/nylas`,
    );
    const mock = await runCli(['webhooks', 'test', '--mock-payload', '--trigger', 'event.created'], env);
    expect(JSON.parse(mock.stdout)).toEqual(expect.objectContaining({ type: 'event.created' }));
  });

  it('delete --forget-secrets removes the destination at Nylas and its secrets from the file', async () => {
    const r = await runCli(['webhooks', 'delete', id, '--forget-secrets'], env);
    expect(r.stdout).toBe(
      `deleted ${id}; 1 secret(s) of destination "default" removed from the secrets file`,
    );
    expect(api.webhooks.list()).toEqual([]);
    expect(fileSecrets()).toEqual({});
  });

  it('needs NYLAS_API_KEY (configuration error, exit code 2)', async () => {
    const r = await runCli(['webhooks', 'list'], { ...env, NYLAS_API_KEY: undefined });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('NYLAS_API_KEY: required');
  });
});
