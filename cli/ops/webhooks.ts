/**
 * `webhooks …`: the Nylas webhooks management API (docs/nylas-contract.md §6) through the official
 * SDK where it has the call (send-test-event and mock-payload it has not: plain fetch with the same
 * Bearer key), and the ingress secrets file kept in step: a created destination's secret and a
 * rotated secret are written there at once, beside the previous one, so the running ingress accepts
 * both until the old one is retired.
 */
import Nylas, { NylasApiError, type Webhook, type WebhookTriggers, type WebhookWithSecret } from 'nylas';
import { INGRESS_VARIABLES } from '../../ingress/config';
import { type Env, loadNylasApiConfig } from '../../lib/config';
import { OpsRefusal } from './errors';
import {
  addSecret,
  destinationForUrl,
  destinationSecrets,
  forgetDestination,
  restoreSecrets,
  retireOldSecrets,
  storableSecret,
} from './secrets-file';

export interface WebhooksConfig {
  apiKey: string;
  apiUri: string;
  /** NYLAS_WEBHOOK_SECRETS_FILE: where new secrets go. */
  secretsFile: string | undefined;
  /** NYLAS_WEBHOOK_SECRETS_RELOAD_MS: how often the ingress re-reads the file (sizes the rotation hold). */
  secretsReloadMs: number;
}

export function loadWebhooksConfig(env: Env): WebhooksConfig {
  return {
    ...loadNylasApiConfig(env, 'required: the webhooks commands call the Nylas API (Dashboard → API Keys)'),
    secretsFile: INGRESS_VARIABLES.secretsFile.read(env),
    secretsReloadMs: INGRESS_VARIABLES.secretsReload.read(env),
  };
}

/** A destination as Nylas's API names its fields (what the docs and the Dashboard show). */
export interface WebhookView {
  id: string;
  description: string;
  trigger_types: string[];
  webhook_url: string;
  status: string;
  notification_email_addresses: string[];
  status_updated_at?: number;
  created_at?: number;
  updated_at?: number;
}

export function view(w: Webhook): WebhookView {
  return {
    id: w.id,
    description: w.description ?? '',
    trigger_types: [...w.triggerTypes],
    webhook_url: w.webhookUrl,
    status: w.status,
    notification_email_addresses: [...(w.notificationEmailAddresses ?? [])],
    ...(w.statusUpdatedAt !== undefined ? { status_updated_at: w.statusUpdatedAt } : {}),
    ...(w.createdAt !== undefined ? { created_at: w.createdAt } : {}),
    ...(w.updatedAt !== undefined ? { updated_at: w.updatedAt } : {}),
  };
}

/** Nylas's error, said plainly (with what usually causes a failed challenge). */
function refusal(err: unknown, doing: string): never {
  if (err instanceof NylasApiError) {
    const hint = /verify\.webhook_url|challenge/i.test(err.message)
      ? ' (Nylas calls GET <webhook_url>?challenge=…: the ingress must be running and reachable at that URL)'
      : '';
    throw new OpsRefusal(`${doing}: Nylas API ${err.statusCode} ${err.type}: ${err.message}${hint}`);
  }
  throw err;
}

export class WebhooksApi {
  private readonly nylas: Nylas;

  constructor(private readonly config: WebhooksConfig) {
    this.nylas = new Nylas({ apiKey: config.apiKey, apiUri: config.apiUri });
  }

  async list(): Promise<WebhookView[]> {
    const out: WebhookView[] = [];
    try {
      for await (const page of this.nylas.webhooks.list()) out.push(...page.data.map(view));
    } catch (err) {
      refusal(err, 'listing webhook destinations');
    }
    return out;
  }

  async get(id: string): Promise<WebhookView> {
    try {
      return view((await this.nylas.webhooks.find({ webhookId: id })).data);
    } catch (err) {
      refusal(err, `getting webhook destination ${id}`);
    }
  }

  async create(body: {
    url: string;
    triggers: string[];
    description?: string;
    notify?: string[];
  }): Promise<WebhookWithSecret> {
    try {
      const res = await this.nylas.webhooks.create({
        requestBody: {
          webhookUrl: body.url,
          triggerTypes: body.triggers as WebhookTriggers[],
          ...(body.description !== undefined ? { description: body.description } : {}),
          ...(body.notify !== undefined ? { notificationEmailAddresses: body.notify } : {}),
        },
      });
      return res.data;
    } catch (err) {
      refusal(err, 'creating the webhook destination');
    }
  }

  async update(
    id: string,
    body: {
      url?: string;
      triggers?: string[];
      description?: string;
      notify?: string[];
      status?: 'active' | 'pause';
    },
  ): Promise<WebhookView> {
    // `status` is part of PUT /v3/webhooks/{id} (§6.2) but not of the SDK's request type; the SDK
    // sends the body's keys snake-cased, so it goes through unchanged.
    const requestBody = {
      ...(body.url !== undefined ? { webhookUrl: body.url } : {}),
      ...(body.triggers !== undefined ? { triggerTypes: body.triggers as WebhookTriggers[] } : {}),
      ...(body.description !== undefined ? { description: body.description } : {}),
      ...(body.notify !== undefined ? { notificationEmailAddresses: body.notify } : {}),
      ...(body.status !== undefined ? { status: body.status } : {}),
    };
    try {
      return view((await this.nylas.webhooks.update({ webhookId: id, requestBody })).data);
    } catch (err) {
      refusal(err, `updating webhook destination ${id}`);
    }
  }

  async delete(id: string): Promise<void> {
    try {
      await this.nylas.webhooks.destroy({ webhookId: id });
    } catch (err) {
      refusal(err, `deleting webhook destination ${id}`);
    }
  }

  async rotateSecret(id: string): Promise<WebhookWithSecret> {
    try {
      return (await this.nylas.webhooks.rotateSecret({ webhookId: id })).data;
    } catch (err) {
      refusal(err, `rotating the secret of webhook destination ${id}`);
    }
  }

  /** POST /v3/webhooks/send-test-event (§6.6): Nylas POSTs a test notification, signed with the key
   * `mock-webhook-secret`, to the URL and waits for the answer. Not in the SDK. */
  async sendTestEvent(trigger: string, webhookUrl: string): Promise<void> {
    await this.post(
      '/v3/webhooks/send-test-event',
      { trigger_type: trigger, webhook_url: webhookUrl },
      'sending a test event',
    );
  }

  /** POST /v3/webhooks/mock-payload (§6.5): an example notification; nothing is delivered. Not in the SDK. */
  async mockPayload(trigger: string): Promise<unknown> {
    const res = (await this.post(
      '/v3/webhooks/mock-payload',
      { trigger_type: trigger },
      'getting a mock payload',
    )) as {
      data?: unknown;
    };
    return res.data;
  }

  private async post(path: string, body: unknown, doing: string): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.config.apiUri}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.config.apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw new OpsRefusal(`${doing}: cannot reach ${this.config.apiUri} (${(err as Error).message})`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      json = { raw: text };
    }
    if (!res.ok) {
      const e = (json as { error?: { type?: string; message?: string } }).error;
      throw new OpsRefusal(
        `${doing}: Nylas API ${res.status} ${e?.type ?? ''}: ${e?.message ?? text}`.replace(/ +:/, ':'),
      );
    }
    return json;
  }
}

// ---- operations that keep the secrets file in step ------------------------------------------------

export interface InstalledSecret {
  /** Where the secret went; undefined when no secrets file is configured (the caller shows it once). */
  file: string | undefined;
  destination: string;
  /** Secrets the destination has in the file now (2 right after a rotation: old and new). */
  secrets: number;
}

async function install(
  config: WebhooksConfig,
  destination: string,
  secret: string,
): Promise<InstalledSecret> {
  if (config.secretsFile === undefined) return { file: undefined, destination, secrets: 0 };
  const secrets = await addSecret(config.secretsFile, destination, secret);
  return { file: config.secretsFile, destination, secrets };
}

/** Creates the destination (Nylas runs the challenge against the ingress now) and installs its secret. */
export async function createWebhook(
  api: WebhooksApi,
  config: WebhooksConfig,
  body: { url: string; triggers: string[]; description?: string; notify?: string[]; destination?: string },
): Promise<{ webhook: WebhookWithSecret; installed: InstalledSecret }> {
  const destination = body.destination ?? destinationForUrl(body.url);
  const webhook = await api.create(body);
  return { webhook, installed: await install(config, destination, webhook.webhookSecret) };
}

/** The default hold: long enough for every ingress to have re-read the file twice over. */
export function defaultHoldMs(config: WebhooksConfig): number {
  return 2 * config.secretsReloadMs + 1000;
}

export interface RotateOptions {
  destination?: string;
  /**
   * Milliseconds to hold the destination before rotating (0 = no hold). Nylas signs with the new
   * secret the moment it is rotated (§6.3), and a delivery the ingress cannot verify gets a 401 that
   * Nylas never retries. Holding closes that gap: the destination's secrets are taken out of the file
   * first, and an ingress with no secret for a destination answers 503, which Nylas retries (with
   * the new signature). After the hold the secret is rotated and the new one installed; deliveries in
   * between arrive late (Nylas's retry backoff), none are refused for good.
   */
  holdMs: number;
  /** Called when the hold starts (so the CLI can say what it is waiting for). */
  onHold?: (destination: string, ms: number) => void;
  /** Called when the held destination's old secrets go back beside the new one for the overlap. */
  onOverlap?: (destination: string, ms: number) => void;
  /** Aborting during the hold (Ctrl-C) puts the old secrets back and rotates nothing; during the
   * overlap, it leaves the old secrets beside the new one (retire-secrets removes them). */
  signal?: AbortSignal;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Rotates the secret at Nylas and installs the new one: with a hold (default), instead of the old
 * ones; without, beside them (retire the old ones later with retireSecrets).
 */
export async function rotateWebhookSecret(
  api: WebhooksApi,
  config: WebhooksConfig,
  id: string,
  options: RotateOptions,
): Promise<{
  webhook: WebhookWithSecret;
  installed: InstalledSecret;
  held: boolean;
  /** After a hold: the old secrets removed at the end of the overlap; undefined if interrupted first. */
  retired?: number;
}> {
  const file = config.secretsFile;
  if (file === undefined) {
    throw new OpsRefusal(
      'NYLAS_WEBHOOK_SECRETS_FILE is not set: the new secret would take effect at Nylas with nowhere for the ingress to read it; set it to the file the ingress reads',
    );
  }
  // Resolve the destination before touching anything, so a failure here changes nothing.
  const destination = options.destination ?? destinationForUrl((await api.get(id)).webhook_url);
  const previous = await destinationSecrets(file, destination);
  const held = options.holdMs > 0 && previous.length > 0;
  if (held) {
    await forgetDestination(file, destination);
    options.onHold?.(destination, options.holdMs);
    if (!(await sleep(options.holdMs, options.signal))) {
      await restoreSecrets(file, destination, previous);
      throw new OpsRefusal(
        `interrupted during the hold: the secrets of "${destination}" are back, nothing was rotated`,
      );
    }
  }
  let webhook: WebhookWithSecret;
  try {
    webhook = await api.rotateSecret(id);
  } catch (err) {
    // Nylas still signs with the old secret: give it back to the ingress.
    if (held) await restoreSecrets(file, destination, previous);
    throw err;
  }
  if (!held) return { webhook, installed: await install(config, destination, webhook.webhookSecret), held };
  // The overlap: the old secrets go back beside the new one (newest last, so retiring keeps it) for as
  // long as the hold lasted. A delivery Nylas signed with the old secret just before the rotation can
  // reach an ingress that already has the new one (it spent the rotation and a file reload in flight,
  // or in a slow event loop); without the old secret it would get a 401, which Nylas never retries.
  // That is the likelier of two causes of the one 401 a CI run saw in "rotate-secret while
  // notifications flow" (the other: an ingress that had not re-read the file within the hold, which
  // only a longer hold, --hold-for, can help).
  // One write: between two, an ingress could load the old secrets alone and refuse the new signature.
  const secret = storableSecret(webhook.webhookSecret);
  const installed: InstalledSecret = {
    file,
    destination,
    secrets: await restoreSecrets(file, destination, [...previous.filter((s) => s !== secret), secret]),
  };
  options.onOverlap?.(destination, options.holdMs);
  if (!(await sleep(options.holdMs, options.signal))) return { webhook, installed, held };
  const retired = await retireOldSecrets(file, destination);
  return { webhook, installed: { ...installed, secrets: installed.secrets - retired }, held, retired };
}

export async function retireSecrets(config: WebhooksConfig, destination: string): Promise<number> {
  if (config.secretsFile === undefined) throw new OpsRefusal('NYLAS_WEBHOOK_SECRETS_FILE is not set');
  return retireOldSecrets(config.secretsFile, destination);
}

export async function deleteWebhook(
  api: WebhooksApi,
  config: WebhooksConfig,
  id: string,
  forgetSecrets: boolean,
  destinationOverride?: string,
): Promise<{ destination: string; forgotten: number }> {
  const destination = destinationOverride ?? destinationForUrl((await api.get(id)).webhook_url);
  await api.delete(id);
  const forgotten =
    forgetSecrets && config.secretsFile !== undefined
      ? await forgetDestination(config.secretsFile, destination)
      : 0;
  return { destination, forgotten };
}
