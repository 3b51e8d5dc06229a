/**
 * rotate-secret's hold: the destination's secrets leave the file before the rotation (the ingress then
 * answers 503, which Nylas retries, instead of a 401 it would not), the new secret goes in beside them
 * for an overlap (a delivery signed just before the rotation may still arrive) and then alone, and a
 * failed or interrupted rotation puts the old ones back.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebhookWithSecret } from 'nylas';
import { OpsRefusal } from '../../../cli/ops/errors';
import { addSecret, destinationSecrets } from '../../../cli/ops/secrets-file';
import {
  defaultHoldMs,
  loadWebhooksConfig,
  rotateWebhookSecret,
  type WebhooksApi,
  type WebhooksConfig,
} from '../../../cli/ops/webhooks';
import { loadIngressConfig } from '../../../ingress/config';
import { parseSecretsText } from '../../../ingress/secrets';

describe('rotateWebhookSecret', () => {
  let dir: string;
  let config: WebhooksConfig;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rotate-'));
    config = {
      apiKey: 'k',
      apiUri: 'http://127.0.0.1:1',
      secretsFile: join(dir, 'secrets.json'),
      secretsReloadMs: 10,
    };
    await addSecret(config.secretsFile as string, 'billing', 'old-secret');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function fakeApi(rotate: () => Promise<WebhookWithSecret>, seen: string[][]): WebhooksApi {
    return {
      get: async () => ({ webhook_url: 'https://hooks.example.com/webhooks/nylas/billing' }),
      rotateSecret: async () => {
        // What the ingress would read at the moment Nylas switches secrets.
        seen.push(await destinationSecrets(config.secretsFile as string, 'billing'));
        return rotate();
      },
    } as unknown as WebhooksApi;
  }
  const rotated = { id: 'w1', webhookSecret: 'new-secret' } as WebhookWithSecret;
  /** The destination's secrets in the file now, read synchronously (inside a callback). */
  const readSecrets = (): string[] => [
    ...(parseSecretsText(readFileSync(config.secretsFile as string, 'utf8')).billing ?? []),
  ];

  it('holds (no secret while Nylas switches), keeps the old beside the new for the overlap, then only the new', async () => {
    const seen: string[][] = [];
    const holds: string[] = [];
    const overlap: string[][] = [];
    const r = await rotateWebhookSecret(
      fakeApi(async () => rotated, seen),
      config,
      'w1',
      {
        holdMs: 20,
        onHold: (d, ms) => holds.push(`${d}:${ms}`),
        onOverlap: (d, ms) => {
          holds.push(`overlap ${d}:${ms}`);
          overlap.push(readSecrets());
        },
      },
    );
    expect(seen).toEqual([[]]);
    expect(holds).toEqual(['billing:20', 'overlap billing:20']);
    // Newest last: retire-secrets keeps the last one.
    expect(overlap).toEqual([['old-secret', 'new-secret']]);
    expect(r).toEqual(expect.objectContaining({ held: true, retired: 1 }));
    expect(r.installed.secrets).toBe(1);
    expect(await destinationSecrets(config.secretsFile as string, 'billing')).toEqual(['new-secret']);
  });

  it('an interrupted overlap leaves the old secret beside the new one (retire-secrets removes it)', async () => {
    const abort = new AbortController();
    const r = await rotateWebhookSecret(
      fakeApi(async () => rotated, []),
      config,
      'w1',
      {
        holdMs: 20,
        signal: abort.signal,
        onOverlap: () => abort.abort(),
      },
    );
    expect(r.retired).toBeUndefined();
    expect(r.installed.secrets).toBe(2);
    expect(await destinationSecrets(config.secretsFile as string, 'billing')).toEqual([
      'old-secret',
      'new-secret',
    ]);
  });

  it('without a hold installs the new secret beside the old one', async () => {
    const seen: string[][] = [];
    const r = await rotateWebhookSecret(
      fakeApi(async () => rotated, seen),
      config,
      'w1',
      { holdMs: 0 },
    );
    expect(seen).toEqual([['old-secret']]);
    expect(r.held).toBe(false);
    expect(await destinationSecrets(config.secretsFile as string, 'billing')).toEqual([
      'old-secret',
      'new-secret',
    ]);
  });

  it('puts the old secrets back when Nylas refuses the rotation', async () => {
    const api = fakeApi(async () => Promise.reject(new OpsRefusal('Nylas API 400')), []);
    await expect(rotateWebhookSecret(api, config, 'w1', { holdMs: 5 })).rejects.toThrow('Nylas API 400');
    expect(await destinationSecrets(config.secretsFile as string, 'billing')).toEqual(['old-secret']);
  });

  it('an interrupted hold puts the old secrets back and rotates nothing', async () => {
    const seen: string[][] = [];
    const abort = new AbortController();
    const running = rotateWebhookSecret(
      fakeApi(async () => rotated, seen),
      config,
      'w1',
      {
        holdMs: 60_000,
        signal: abort.signal,
        onHold: () => abort.abort(),
      },
    );
    await expect(running).rejects.toThrow(/interrupted during the hold/);
    expect(seen).toEqual([]);
    expect(await destinationSecrets(config.secretsFile as string, 'billing')).toEqual(['old-secret']);
  });

  it('sizes the default hold from the ingress reload interval', () => {
    const c = loadWebhooksConfig({ NYLAS_API_KEY: 'k', NYLAS_WEBHOOK_SECRETS_RELOAD_MS: '2000' });
    expect(defaultHoldMs(c)).toBe(5000);
    expect(defaultHoldMs(loadWebhooksConfig({ NYLAS_API_KEY: 'k' }))).toBe(11_000);
    expect(() => loadWebhooksConfig({})).toThrow(/NYLAS_API_KEY/);
  });

  it('reads the reload interval as the ingress does: same units, same minimum', () => {
    const env = { NYLAS_API_KEY: 'k', NYLAS_WEBHOOK_SECRETS_RELOAD_MS: '2s' };
    expect(loadWebhooksConfig(env).secretsReloadMs).toBe(
      loadIngressConfig(env).ingress.secrets.reloadIntervalMs,
    );
    const tooFast = { NYLAS_API_KEY: 'k', NYLAS_WEBHOOK_SECRETS_RELOAD_MS: '50' };
    expect(() => loadIngressConfig(tooFast)).toThrow(
      /^NYLAS_WEBHOOK_SECRETS_RELOAD_MS: must be at least 100ms/,
    );
    expect(() => loadWebhooksConfig(tooFast)).toThrow(
      /^NYLAS_WEBHOOK_SECRETS_RELOAD_MS: must be at least 100ms/,
    );
  });
});
