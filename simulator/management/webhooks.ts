/**
 * The webhooks management API (docs/nylas-contract.md §6): destinations with their own secret,
 * the challenge GET on create and on reactivation (§2.2), rotate-secret with no grace period (§6.3),
 * IP addresses (§6.4), mock payloads (§6.5) and test events signed with `mock-webhook-secret` (§6.6).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type Request, type Response, Router } from 'express';
import { type Logger, silentLogger } from '../../lib/logger';
import { NylasHttpError, newRequestId, sendData, sendJson } from '../api/envelopes';
import { type Clock, realClock } from '../clock';
import { SUBSCRIBABLE_TRIGGERS, subscriptionCandidates, TEST_TOOL_TRIGGERS } from '../payloads/triggers';
import { exchange } from '../sender/http';
import { MOCK_WEBHOOK_SECRET, SIGNATURE_HEADER, signBody } from '../signing';

/** §2.4: the SDK's statuses. `inactive` (DOC-NOTIF, CLI) is accepted as a synonym of `pause` (§9 #4). */
export type DestinationStatus = 'active' | 'pause' | 'failing' | 'failed';

export interface WebhookDestination {
  id: string;
  description: string;
  trigger_types: string[];
  webhook_url: string;
  status: DestinationStatus;
  notification_email_addresses: string[];
  /** Unix seconds (§2.4). */
  status_updated_at: number;
  created_at: number;
  updated_at: number;
  compressed_delivery: boolean;
}

/** A live view of one destination for the Sender: it reads the current secret at each attempt, so a
 * rotation takes effect at once (§6.3), and reports health changes back (§2.4). */
export interface DestinationHandle {
  readonly id: string;
  readonly url: string;
  readonly secret: string;
  readonly compressed: boolean;
  readonly status: DestinationStatus;
  /** True once the destination was deleted through the API. */
  readonly deleted: boolean;
  /** Called by the sender's health tracker when the destination becomes failing/failed/active. */
  reportStatus(status: 'active' | 'failing' | 'failed'): void;
}

export interface ManagementOptions {
  /** Wall-clock ms the endpoint has to answer the challenge (§2.2: 10 s). Not scaled by the clock:
   * a real endpoint answers in real time. */
  challengeTimeoutMs?: number;
  /** Real Nylas requires public HTTPS URLs (§2.1); a local simulator must allow http://127.0.0.1. */
  requireHttps?: boolean;
  /** Builds the example notification for mock-payload and send-test-event (§6.5, §6.6). */
  mockNotification?: (triggerType: string) => object;
  /** Addresses reported by GET /v3/webhooks/ip-addresses (§6.4). */
  ipAddresses?: string[];
}

interface StoredDestination extends WebhookDestination {
  webhook_secret: string;
}

/** Management errors use numeric-string types (§6: 70000 not found, 70001 bad request, 70005 challenge). */
function mgmtError(status: number, type: string, message: string): NylasHttpError {
  return new NylasHttpError(status, type, message);
}

function generateSecret(): string {
  // The shape of the OAS example `41dD3-nXTUfebYuk81Gr`: 20 URL-safe characters.
  return randomBytes(15).toString('base64url');
}

function generateId(): string {
  return randomBytes(20).toString('base64url').replace(/[-_]/g, 'x').slice(0, 26);
}

export interface ChallengeResult {
  ok: boolean;
  /** Nylas-style reason, e.g. "status is not ok, got 404". */
  reason: string;
}

export class WebhookRegistry {
  private readonly destinations = new Map<string, StoredDestination>();
  private readonly clock: Clock;
  private readonly log: Logger;
  readonly options: Required<Omit<ManagementOptions, 'mockNotification'>> &
    Pick<ManagementOptions, 'mockNotification'>;

  constructor(options: ManagementOptions & { clock?: Clock; logger?: Logger } = {}) {
    this.clock = options.clock ?? realClock;
    this.log = options.logger ?? silentLogger();
    this.options = {
      challengeTimeoutMs: options.challengeTimeoutMs ?? 10_000,
      requireHttps: options.requireHttps ?? false,
      ipAddresses: options.ipAddresses ?? ['127.0.0.1'],
      mockNotification: options.mockNotification,
    };
  }

  private nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  /** §2.2: GET <url>?challenge=<uuid>; pass = 200 within the budget, body exactly the value, not chunked. */
  async challenge(url: string): Promise<ChallengeResult> {
    const value = randomUUID();
    const target = new URL(url);
    target.searchParams.set('challenge', value);
    const r = await exchange({
      method: 'GET',
      url: target.toString(),
      timeoutMs: this.options.challengeTimeoutMs,
    });
    if (r.kind !== 'response')
      return { ok: false, reason: r.kind === 'timeout' ? 'request timed out' : r.message };
    if (r.status !== 200) return { ok: false, reason: `status is not ok, got ${r.status}` };
    if (
      String(r.headers['transfer-encoding'] ?? '')
        .toLowerCase()
        .includes('chunked')
    )
      return { ok: false, reason: 'chunked transfer encoding is not allowed' };
    if (r.body.toString('utf8') !== value) return { ok: false, reason: 'challenge value mismatch' };
    return { ok: true, reason: 'ok' };
  }

  private validateUrl(raw: unknown, exceptId?: string): string {
    if (typeof raw !== 'string' || raw === '') throw mgmtError(400, '70001', 'webhook_url.required');
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw mgmtError(400, '70001', `webhook_url.invalid : ${raw}`);
    }
    if (u.protocol !== 'https:' && (this.options.requireHttps || u.protocol !== 'http:'))
      throw mgmtError(400, '70001', 'webhook_url.invalid : the URL must be HTTPS');
    // §2.1: each destination must have its own unique URL.
    for (const d of this.destinations.values())
      if (d.webhook_url === raw && d.id !== exceptId) throw mgmtError(400, '70001', 'webhook_url.duplicate');
    return raw;
  }

  private validateTriggers(raw: unknown): string[] {
    if (!Array.isArray(raw) || raw.length === 0) throw mgmtError(400, '70001', 'trigger_types.required');
    for (const t of raw)
      if (typeof t !== 'string' || !SUBSCRIBABLE_TRIGGERS.includes(t))
        throw mgmtError(400, '70001', `trigger_types.invalid : ${String(t)}`);
    return [...new Set(raw as string[])];
  }

  private public(d: StoredDestination): WebhookDestination {
    const { webhook_secret: _secret, ...rest } = d;
    return {
      ...rest,
      trigger_types: [...rest.trigger_types],
      notification_email_addresses: [...rest.notification_email_addresses],
    };
  }

  private require(id: string): StoredDestination {
    const d = this.destinations.get(id);
    if (!d) throw mgmtError(400, '70000', 'destination.id.not.found : record not found');
    return d;
  }

  /** §6.1: validates, runs the challenge synchronously (400 on failure), returns the secret once. */
  async create(body: Record<string, unknown>): Promise<WebhookDestination & { webhook_secret: string }> {
    const triggers = this.validateTriggers(body.trigger_types);
    const url = this.validateUrl(body.webhook_url);
    const result = await this.challenge(url);
    if (!result.ok) throw mgmtError(400, '70005', `unable.verify.webhook_url : ${result.reason}`);
    const now = this.nowSeconds();
    const d: StoredDestination = {
      id: generateId(),
      description: typeof body.description === 'string' ? body.description : '',
      trigger_types: triggers,
      webhook_url: url,
      status: 'active',
      notification_email_addresses: Array.isArray(body.notification_email_addresses)
        ? body.notification_email_addresses.map(String)
        : [],
      status_updated_at: now,
      created_at: now,
      updated_at: now,
      compressed_delivery: body.compressed_delivery === true,
      webhook_secret: generateSecret(),
    };
    this.destinations.set(d.id, d);
    this.log.debug({ id: d.id, url }, 'webhook destination created');
    return { ...this.public(d), webhook_secret: d.webhook_secret };
  }

  list(): WebhookDestination[] {
    return [...this.destinations.values()].map((d) => this.public(d));
  }

  get(id: string): WebhookDestination {
    return this.public(this.require(id));
  }

  /** §6.2: partial update; setting `active` again re-runs the challenge (§2.2, §2.4 recovery). */
  async update(id: string, body: Record<string, unknown>): Promise<WebhookDestination> {
    const d = this.require(id);
    const next: StoredDestination = { ...d };
    if (body.description !== undefined && body.description !== '')
      next.description = String(body.description);
    if (
      body.trigger_types !== undefined &&
      !(Array.isArray(body.trigger_types) && body.trigger_types.length === 0)
    )
      next.trigger_types = this.validateTriggers(body.trigger_types);
    if (body.webhook_url !== undefined && body.webhook_url !== '')
      next.webhook_url = this.validateUrl(body.webhook_url, id);
    if (Array.isArray(body.notification_email_addresses) && body.notification_email_addresses.length > 0)
      next.notification_email_addresses = body.notification_email_addresses.map(String);
    if (typeof body.compressed_delivery === 'boolean') next.compressed_delivery = body.compressed_delivery;
    const now = this.nowSeconds();
    if (body.status !== undefined && body.status !== '') {
      const wanted = body.status === 'inactive' ? 'pause' : body.status;
      if (wanted !== 'active' && wanted !== 'pause')
        throw mgmtError(400, '70001', `status.invalid : ${String(body.status)}`);
      if (wanted === 'active' && d.status !== 'active') {
        const result = await this.challenge(next.webhook_url);
        if (!result.ok) throw mgmtError(400, '70005', `unable.verify.webhook_url : ${result.reason}`);
      }
      if (wanted !== d.status) next.status_updated_at = now;
      next.status = wanted;
    } else if (next.webhook_url !== d.webhook_url) {
      const result = await this.challenge(next.webhook_url);
      if (!result.ok) throw mgmtError(400, '70005', `unable.verify.webhook_url : ${result.reason}`);
    }
    next.updated_at = now;
    this.destinations.set(id, next);
    return this.public(next);
  }

  delete(id: string): void {
    this.require(id);
    this.destinations.delete(id);
  }

  /** §6.3: a new secret at once; the old one is never used again (no grace period, no dual signing). */
  rotateSecret(id: string): WebhookDestination & { webhook_secret: string } {
    const d = this.require(id);
    d.webhook_secret = generateSecret();
    d.updated_at = this.nowSeconds();
    return { ...this.public(d), webhook_secret: d.webhook_secret };
  }

  /** Destination health set by the sender (§2.4). A `failed` destination stays failed until a user
   * reactivates it. */
  setStatus(id: string, status: DestinationStatus): void {
    const d = this.require(id);
    if (d.status === status) return;
    if (d.status === 'failed' && status !== 'failed') return;
    d.status = status;
    d.status_updated_at = this.nowSeconds();
  }

  /** A live handle for the Sender (reads the current URL, secret and status at every attempt). Once the
   * destination is deleted the handle reports `deleted` and the sender stops delivering to it. */
  handle(id: string): DestinationHandle {
    let last = this.require(id);
    const current = (): StoredDestination => {
      const d = this.destinations.get(id);
      if (d) last = d;
      return last;
    };
    const registry = this;
    return {
      id,
      get url() {
        return current().webhook_url;
      },
      get secret() {
        return current().webhook_secret;
      },
      get compressed() {
        return current().compressed_delivery;
      },
      get status() {
        return current().status;
      },
      get deleted() {
        return !registry.destinations.has(id);
      },
      reportStatus(status) {
        const d = registry.destinations.get(id);
        if (!d || d.status === 'pause') return;
        registry.setStatus(id, status);
      },
    };
  }

  /** Destinations subscribed to a delivered type (suffixes route by prefix, §1). Paused and failed
   * destinations get nothing (§2.4: no replay). */
  destinationsFor(type: string): DestinationHandle[] {
    const candidates = subscriptionCandidates(type);
    const out: DestinationHandle[] = [];
    for (const d of this.destinations.values()) {
      if (d.status === 'pause' || d.status === 'failed') continue;
      if (d.trigger_types.some((t) => candidates.includes(t))) out.push(this.handle(d.id));
    }
    return out;
  }

  mock(triggerType: unknown): object {
    if (typeof triggerType !== 'string' || !TEST_TOOL_TRIGGERS.includes(triggerType))
      throw mgmtError(400, '70001', `trigger_type.invalid : ${String(triggerType)}`);
    if (!this.options.mockNotification) throw mgmtError(501, '70001', 'mock payloads are not configured');
    return this.options.mockNotification(triggerType);
  }

  /** §6.6: POST a test payload signed with `mock-webhook-secret` and wait for the acknowledgement. */
  async sendTestEvent(triggerType: unknown, webhookUrl: unknown): Promise<void> {
    const payload = this.mock(triggerType);
    if (typeof webhookUrl !== 'string' || webhookUrl === '')
      throw mgmtError(400, '70001', 'webhook_url.required');
    const body = Buffer.from(JSON.stringify(payload), 'utf8');
    const r = await exchange({
      method: 'POST',
      url: webhookUrl,
      body,
      headers: {
        'Content-Type': 'application/json',
        [SIGNATURE_HEADER]: signBody(body, MOCK_WEBHOOK_SECRET),
      },
      timeoutMs: this.options.challengeTimeoutMs,
    });
    if (r.kind !== 'response') throw mgmtError(400, '70005', `unable.send.test_event : ${r.message}`);
    if (r.status !== 200)
      throw mgmtError(400, '70005', `unable.send.test_event : status is not ok, got ${r.status}`);
  }
}

export function webhooksRouter(registry: WebhookRegistry): Router {
  const router = Router();
  const body = (req: Request): Record<string, unknown> =>
    req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
  const id = (req: Request): string => String(req.params.id);

  router.get('/v3/webhooks', (req: Request, res: Response) => sendData(req, res, registry.list()));
  router.post('/v3/webhooks', async (req: Request, res: Response) =>
    sendData(req, res, await registry.create(body(req))),
  );
  // §6.4 / §9 #12
  router.get('/v3/webhooks/ip-addresses', (req: Request, res: Response) =>
    sendData(req, res, {
      ip_addresses: registry.options.ipAddresses,
      updated_at: Math.floor(Date.now() / 1000),
    }),
  );
  // §6.5 / §9 #13: accepts {trigger_type} with or without webhook_url; returns {request_id, data: <notification>}.
  router.post('/v3/webhooks/mock-payload', (req: Request, res: Response) =>
    sendData(req, res, registry.mock(body(req).trigger_type)),
  );
  // §6.6
  router.post('/v3/webhooks/send-test-event', async (req: Request, res: Response) => {
    await registry.sendTestEvent(body(req).trigger_type, body(req).webhook_url);
    sendJson(req, res, 200, { request_id: newRequestId(), data: 'success' });
  });
  // §6.3 (OAS route) and §9 #5 (the Python SDK's alias).
  router.post('/v3/webhooks/rotate-secret/:id', (req: Request, res: Response) =>
    sendData(req, res, registry.rotateSecret(id(req))),
  );
  router.put('/v3/webhooks/:id/rotate-secret', (req: Request, res: Response) =>
    sendData(req, res, registry.rotateSecret(id(req))),
  );
  router.get('/v3/webhooks/:id', (req: Request, res: Response) => sendData(req, res, registry.get(id(req))));
  router.put('/v3/webhooks/:id', async (req: Request, res: Response) =>
    sendData(req, res, await registry.update(id(req), body(req))),
  );
  router.delete('/v3/webhooks/:id', (req: Request, res: Response) => {
    registry.delete(id(req));
    sendData(req, res, { status: 'success' });
  });
  return router;
}
