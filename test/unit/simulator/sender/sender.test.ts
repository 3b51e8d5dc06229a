/**
 * The Sender against a small local receiver answering scripted statuses and delays (issue 3, "Tests").
 */
import { gunzipSync } from 'node:zlib';
import {
  buildNotification,
  createWorld,
  type NotificationEnvelope,
  Sender,
  type SenderOptions,
  scaledClock,
  signBody,
  WebhookRegistry,
} from '../../../../simulator';
import { RETRIED_STATUSES } from '../../../../simulator/sender/retry-policy';
import { type ScriptedReceiver, startScriptedReceiver } from '../../../helpers/scripted-webhook-receiver';

const SECRET = 'dest-secret-1';
let receiver: ScriptedReceiver;
const senders: Sender[] = [];

beforeEach(async () => {
  receiver = await startScriptedReceiver();
});
afterEach(async () => {
  for (const s of senders.splice(0)) s.close();
  await receiver.close();
});

function note(
  id: string,
  type = 'grant.deleted',
  object: Record<string, unknown> = { grant_id: 'g-1' },
): NotificationEnvelope {
  return buildNotification({
    type,
    source: '/nylas/system',
    id,
    time: 1_723_821_985,
    applicationId: 'app-1',
    object,
  });
}

/** 60 000× compressed time: the 16.5-minute retry schedule takes ~17 ms of wall time. */
function sender(options: Partial<SenderOptions> = {}): Sender {
  const s = new Sender({ url: receiver.url, secret: SECRET, clock: scaledClock(60_000), ...options });
  senders.push(s);
  return s;
}

function parsed(body: Buffer): NotificationEnvelope {
  return JSON.parse(body.toString('utf8')) as NotificationEnvelope;
}

describe('Sender', () => {
  it('POSTs JSON signed over the exact bytes, with only the documented headers (§2.1, §9 #19)', async () => {
    const s = sender();
    const [outcome] = await s.send(note('n-1'));
    expect(outcome).toMatchObject({ delivered: true, attempts: 1, reason: 'delivered', finalStatus: 200 });
    const [req] = receiver.received;
    expect(req?.method).toBe('POST');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['x-nylas-signature']).toBe(signBody(req!.body, SECRET));
    expect(req?.headers['content-encoding']).toBeUndefined();
    const nylasHeaders = Object.keys(req!.headers).filter(
      (h) => !['host', 'connection', 'content-length'].includes(h),
    );
    expect(nylasHeaders.sort()).toEqual(['content-type', 'x-nylas-signature']);
    expect(parsed(req!.body)).toMatchObject({ id: 'n-1', webhook_delivery_attempt: 1, specversion: '1.0' });
    expect(s.deliveredIds()).toEqual(new Set(['n-1']));
  });

  it.each([...RETRIED_STATUSES])(
    'status %i: 3 attempts, same id, attempt counter 1→3, each re-signed over its own bytes',
    async (status) => {
      receiver.fallback = { status };
      const s = sender();
      const [outcome] = await s.send(note(`n-${status}`));
      expect(outcome).toMatchObject({
        delivered: false,
        attempts: 3,
        reason: 'retries_exhausted',
        finalStatus: status,
      });
      const posts = receiver.received.filter((r) => r.method === 'POST');
      expect(posts).toHaveLength(3);
      expect(posts.map((p) => parsed(p.body).id)).toEqual([`n-${status}`, `n-${status}`, `n-${status}`]);
      expect(posts.map((p) => parsed(p.body).webhook_delivery_attempt)).toEqual([1, 2, 3]);
      for (const p of posts) expect(p.headers['x-nylas-signature']).toBe(signBody(p.body, SECRET));
      expect(new Set(posts.map((p) => p.headers['x-nylas-signature'])).size).toBe(3);
      // everything but the counter is byte-identical (time kept, §9 #8)
      const strip = (b: Buffer): string => b.toString().replace(/"webhook_delivery_attempt":\d/, '');
      expect(new Set(posts.map((p) => strip(p.body))).size).toBe(1);
    },
  );

  it.each([201, 204, 301, 302, 400, 401, 403, 404, 410, 413, 500, 501])(
    'status %i: one attempt, not delivered, not retried',
    async (status) => {
      receiver.fallback = { status };
      const s = sender();
      const [outcome] = await s.send(note(`p-${status}`));
      expect(outcome).toMatchObject({
        delivered: false,
        attempts: 1,
        reason: 'non_retriable_status',
        finalStatus: status,
      });
      expect(receiver.received.filter((r) => r.method === 'POST')).toHaveLength(1);
    },
  );

  it('acceptAny2xx treats 204 as delivered (§9 #3 lenient mode)', async () => {
    receiver.fallback = { status: 204 };
    const [outcome] = await sender({ acceptAny2xx: true }).send(note('n-204'));
    expect(outcome).toMatchObject({ delivered: true, attempts: 1 });
  });

  it('a retry that succeeds stops the attempts', async () => {
    receiver.script = [{ status: 503 }, { status: 200 }];
    const s = sender();
    const [outcome] = await s.send(note('n-r'));
    expect(outcome).toMatchObject({ delivered: true, attempts: 2 });
    expect(s.attemptsFor('n-r').map((a) => [a.attempt, a.status, a.verdict])).toEqual([
      [1, 503, 'retry'],
      [2, 200, 'delivered'],
    ]);
  });

  it('the default schedule puts the last attempt 10–20 simulated minutes after the first (§2.3)', async () => {
    receiver.fallback = { status: 502 };
    const s = sender();
    const [outcome] = await s.send(note('n-sched'));
    const attempts = s.attemptsFor('n-sched');
    const planned = attempts.reduce((sum, a) => sum + a.scheduledDelayMs, 0);
    expect(planned).toBeGreaterThanOrEqual(10 * 60_000);
    expect(planned).toBeLessThanOrEqual(20 * 60_000);
    // the sender really waited at least that long in simulated time (real time only adds to it)
    expect((outcome?.lastAttemptAt ?? 0) - (outcome?.firstAttemptAt ?? 0)).toBeGreaterThanOrEqual(planned);
  });

  it('honours Retry-After when it is longer than the backoff (§2.3)', async () => {
    receiver.script = [{ status: 429, retryAfter: '3600' }, { status: 429 }, { status: 200 }];
    const s = sender({ retryDelaysMs: [1000, 1000] });
    const [outcome] = await s.send(note('n-ra'));
    expect(outcome).toMatchObject({ delivered: true, attempts: 3 });
    const [a1, a2, a3] = s.attemptsFor('n-ra');
    expect(a1?.retryAfterMs).toBe(3_600_000);
    expect(a2?.scheduledDelayMs).toBe(3_600_000);
    expect(a2!.startedAt - a1!.startedAt).toBeGreaterThanOrEqual(3_600_000);
    // without Retry-After, the 1 s backoff applies
    expect(a3?.scheduledDelayMs).toBe(1000);
  });

  it('an answer slower than the timeout is a failure and is retried (§2.1)', async () => {
    receiver.script = [{ status: 200, delayMs: 400 }, { status: 200 }];
    const s = sender({ timeoutMs: 100 });
    const [outcome] = await s.send(note('n-slow'));
    expect(outcome).toMatchObject({ delivered: true, attempts: 2 });
    expect(s.attemptsFor('n-slow').map((a) => a.result)).toEqual(['timeout', 'response']);
  });

  it('connection errors are retried, then given up', async () => {
    const closedUrl = receiver.url;
    await receiver.close();
    receiver = await startScriptedReceiver();
    const s = sender({ url: closedUrl });
    const [outcome] = await s.send(note('n-conn'));
    expect(outcome).toMatchObject({ delivered: false, attempts: 3, reason: 'retries_exhausted' });
    expect(s.attemptsFor('n-conn').every((a) => a.result === 'connection_error')).toBe(true);
  });

  it('compressed delivery gzips the JSON and signs the gzip bytes (§2.1)', async () => {
    const s = sender({ compressed: true });
    await s.send(note('n-gz'));
    const [req] = receiver.received;
    expect(req?.headers['content-encoding']).toBe('gzip');
    expect(req?.headers['x-nylas-signature']).toBe(signBody(req!.body, SECRET));
    expect(parsed(gunzipSync(req!.body)).id).toBe('n-gz');
  });

  it('truncates an oversized message.* notification it is given, but not other types (§4.1)', async () => {
    const big = 'x'.repeat(1_100_000);
    const s = sender();
    await s.send([
      note('n-big', 'message.created', {
        id: 'm1',
        grant_id: 'g',
        object: 'message',
        body: big,
        subject: 'hi',
      }),
      note('n-big-event', 'event.created', { id: 'e1', grant_id: 'g', object: 'event', description: big }),
    ]);
    const byId = new Map(receiver.received.map((r) => [parsed(r.body).id, parsed(r.body)]));
    expect(byId.get('n-big')).toMatchObject({
      type: 'message.created.truncated',
      data: { object: { id: 'm1', subject: 'hi' } },
    });
    expect(byId.get('n-big')?.data.object).not.toHaveProperty('body');
    expect(byId.get('n-big-event')).toMatchObject({ type: 'event.created' });
  });

  it('injects duplicates (same id, separate deliveries) and reordering, reproducibly from the seed', async () => {
    const notes = Array.from({ length: 40 }, (_, i) => note(`n-${i}`));
    const s = sender({ duplicateRate: 0.5, reorderRate: 0.5, seed: 3, concurrency: 1 });
    const outcomes = await s.send(notes);
    const order = receiver.received.map((r) => parsed(r.body).id);
    expect(new Set(order)).toEqual(new Set(notes.map((n) => n.id)));
    expect(order.length).toBeGreaterThan(40);
    expect(outcomes.filter((o) => o.duplicate).length).toBe(order.length - 40);
    expect(order).not.toEqual(notes.map((n) => n.id).slice(0, order.length));
    // duplicates are first attempts too
    expect(receiver.received.every((r) => parsed(r.body).webhook_delivery_attempt === 1)).toBe(true);

    const again = await startScriptedReceiver();
    try {
      const s2 = new Sender({
        url: again.url,
        secret: SECRET,
        duplicateRate: 0.5,
        reorderRate: 0.5,
        seed: 3,
        concurrency: 1,
      });
      senders.push(s2);
      await s2.send(notes);
      expect(again.received.map((r) => parsed(r.body).id)).toEqual(order);
    } finally {
      await again.close();
    }
  });

  it('limits concurrency', async () => {
    receiver.fallback = { status: 200, delayMs: 30 };
    let peak = 0;
    const s = sender({ concurrency: 3 });
    const origin = receiver.received.length;
    const watcher = setInterval(() => {
      const started = receiver.received.length - origin;
      const done = s.attempts.length;
      peak = Math.max(peak, started - done);
    }, 2);
    try {
      await s.send(Array.from({ length: 12 }, (_, i) => note(`c-${i}`)));
    } finally {
      clearInterval(watcher);
    }
    expect(s.attempts).toHaveLength(12);
    expect(peak).toBeLessThanOrEqual(3);
  });

  it('rate limits first attempts', async () => {
    const s = sender({ ratePerSecond: 50 });
    const t0 = performance.now();
    await s.send(Array.from({ length: 11 }, (_, i) => note(`r-${i}`)));
    // 11 sends at 50/s need at least 10 intervals of 20 ms
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('signs each attempt with the destination’s current secret: rotation takes effect at once (§6.3)', async () => {
    const registry = new WebhookRegistry();
    const created = await registry.create({ trigger_types: ['grant.deleted'], webhook_url: receiver.url });
    receiver.script = [{ status: 503 }, { status: 200 }];
    const s = sender({ url: undefined, secret: undefined, destination: registry.handle(created.id) });
    let rotated = '';
    s.on('attempt', (a: { attempt: number }) => {
      if (a.attempt === 1) rotated = registry.rotateSecret(created.id).webhook_secret;
    });
    await s.send(note('n-rot'));
    const posts = receiver.received.filter((r) => r.method === 'POST');
    expect(posts[0]?.headers['x-nylas-signature']).toBe(signBody(posts[0]!.body, created.webhook_secret));
    expect(posts[1]?.headers['x-nylas-signature']).toBe(signBody(posts[1]!.body, rotated));
    expect(rotated).not.toBe(created.webhook_secret);
  });

  it('a failed destination gets nothing more and nothing is replayed (§2.4)', async () => {
    receiver.fallback = { status: 400 };
    const registry = new WebhookRegistry();
    const created = await registry.create({ trigger_types: ['grant.deleted'], webhook_url: receiver.url });
    // windows shrunk so the whole failing → failed path runs in a few wall-clock ms
    const s = sender({
      clock: scaledClock(1),
      url: undefined,
      secret: undefined,
      destination: registry.handle(created.id),
      health: { failingWindowMs: 5, failedWindowMs: 20 },
    });
    let i = 0;
    while (s.status !== 'failed' && i < 2000) await s.send(note(`f-${i++}`));
    expect(s.status).toBe('failed');
    expect(registry.get(created.id).status).toBe('failed');
    const before = receiver.received.length;
    const [after] = await s.send(note('f-after'));
    expect(after).toMatchObject({ delivered: false, attempts: 0, reason: 'destination_failed' });
    expect(receiver.received.length).toBe(before);
  });

  it('a paused destination is not sent to', async () => {
    const registry = new WebhookRegistry();
    const created = await registry.create({ trigger_types: ['grant.deleted'], webhook_url: receiver.url });
    await registry.update(created.id, { status: 'pause' });
    const s = sender({ url: undefined, secret: undefined, destination: registry.handle(created.id) });
    const [o] = await s.send(note('n-paused'));
    expect(o).toMatchObject({ delivered: false, reason: 'destination_paused' });
    expect(receiver.received.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('a deleted destination is not sent to', async () => {
    const registry = new WebhookRegistry();
    const created = await registry.create({ trigger_types: ['grant.deleted'], webhook_url: receiver.url });
    const s = sender({ url: undefined, secret: undefined, destination: registry.handle(created.id) });
    registry.delete(created.id);
    const [o] = await s.send(note('n-deleted'));
    expect(o).toMatchObject({ delivered: false, reason: 'destination_deleted', attempts: 0 });
    expect(receiver.received.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('sends generated traffic (the world’s notifications) unchanged apart from the counter', async () => {
    const { NotificationGenerator } = await import('../../../../simulator');
    const gen = new NotificationGenerator({
      world: createWorld({ seed: 9, grants: 2, startTime: 1_723_821_985 }),
    });
    const batch = gen.take(25);
    const s = sender({ concurrency: 4 });
    const outcomes = await s.send(batch);
    expect(outcomes.every((o) => o.delivered)).toBe(true);
    const got = new Map(receiver.received.map((r) => [parsed(r.body).id, r.body.toString()]));
    for (const g of batch) expect(got.get(g.envelope.id)).toBe(JSON.stringify(g.envelope));
  });
});
