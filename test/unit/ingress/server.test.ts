import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { Message } from 'kafkajs';
import type { IngressStrangersConfig } from '../../../ingress/config';
import { createIngressMetrics, type IngressMetrics } from '../../../ingress/metrics';
import type { RejectedDelivery } from '../../../ingress/rejected';
import { MOCK_WEBHOOK_SECRET } from '../../../ingress/secrets';
import {
  checkContentEncoding,
  checkContentType,
  createIngressApp,
  type IngressApp,
} from '../../../ingress/server';
import { SourceAllowlist } from '../../../ingress/source';
import { ErrorCodes, TransientError } from '../../../lib/errors';
import { silentLogger } from '../../../lib/logger';
import { createMetricsRegistry } from '../../../lib/metrics';
import { requestHead } from '../../helpers/raw-http';
import { CONTRACT_VECTOR, delivery, hmacHex, notification, post } from '../../helpers/signed-payload';

interface Published {
  topic: string;
  message: Message;
  deadline: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** The app over real HTTP on 127.0.0.1, with a publish the test answers by hand. */
class Harness {
  readonly published: Published[] = [];
  readonly rejected: RejectedDelivery[] = [];
  producerUp = true;
  pendingBytes = 0;
  autoAck = true;
  metrics: IngressMetrics;
  ingress: IngressApp;
  server: Server;
  url = '';

  constructor(
    secrets: Record<string, string[]> = { default: ['test-secret'] },
    acceptMock = false,
    config: Partial<{
      maxInFlight: number;
      maxInFlightBytes: number;
      maxBodyBytes: number;
      strangers: IngressStrangersConfig;
    }> = {},
    source?: { allowlist: SourceAllowlist; trustProxyHops: number },
  ) {
    this.metrics = createIngressMetrics(
      createMetricsRegistry({ service: 'ingress', collectDefaults: false }),
    );
    this.ingress = createIngressApp({
      config: {
        maxBodyBytes: 64 * 1024,
        ackTimeoutMs: 8000,
        retryAfterSeconds: 5,
        maxInFlight: 100,
        maxInFlightBytes: 10_000_000,
        ...config,
      },
      rawTopic: 'raw',
      source,
      secrets: {
        configured: (d) => secrets[d] ?? [],
        candidates: (d) => [...(secrets[d] ?? []), ...(acceptMock ? [MOCK_WEBHOOK_SECRET] : [])],
      },
      publish: (topic, message, deadline) =>
        new Promise<void>((resolve, reject) => {
          this.published.push({ topic, message, deadline, resolve, reject });
          if (this.autoAck) resolve();
        }),
      pendingBytes: () => this.pendingBytes,
      recordRejected: (d) => this.rejected.push(d),
      producerUp: () => this.producerUp,
      metrics: this.metrics,
      logger: silentLogger(),
    });
    this.server = createServer(this.ingress.app);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  get webhook(): string {
    return `${this.url}/webhooks/nylas`;
  }
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(cond()).toBe(true);
};

describe('ingress app (fakes behind it)', () => {
  let h: Harness;
  afterEach(async () => {
    for (const p of h.published) p.resolve();
    await h.stop();
  });

  it('answers 200 only after the publish is acknowledged, with the record built from the request', async () => {
    h = await new Harness().start();
    h.autoAck = false;
    const n = notification({ objectGrantId: 'g-1', attempt: 2, type: 'message.updated' });
    const d = delivery(n);
    const before = Date.now();
    let answered = false;
    const answer = post(h.webhook, d).then((a) => {
      answered = true;
      return a;
    });
    await until(() => h.published.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(answered).toBe(false);
    const p = h.published[0]!;
    expect(p.topic).toBe('raw');
    expect(p.message.key).toBe('g-1');
    expect((p.message.value as Buffer).equals(d.body)).toBe(true);
    expect(p.message.headers).toMatchObject({
      'nylas-notification-id': n.id,
      'nylas-type': 'message.updated',
      'nylas-delivery-attempt': '2',
      'nylas-destination': 'default',
      'nylas-signature': d.signature,
    });
    const receivedAt = Number(p.message.headers?.['received-at']);
    expect(receivedAt).toBeGreaterThanOrEqual(before);
    expect(p.deadline).toBe(receivedAt + 8000);
    p.resolve();
    expect((await answer).status).toBe(200);
  });

  it.each([
    ['ACK_TIMEOUT', new TransientError(ErrorCodes.ACK_TIMEOUT, 'late')],
    ['KAFKA_UNAVAILABLE', new TransientError(ErrorCodes.KAFKA_UNAVAILABLE, 'down')],
    ['an unexpected error', new Error('bug')],
  ])('answers 503 with Retry-After when the publish fails with %s (never 500)', async (_l, err) => {
    h = await new Harness().start();
    h.autoAck = false;
    const answer = post(h.webhook, delivery(notification()));
    await until(() => h.published.length === 1);
    h.published[0]!.reject(err);
    const a = await answer;
    expect(a.status).toBe(503);
    expect(a.headers.get('retry-after')).toBe('5');
    expect(h.rejected).toHaveLength(0);
  });

  it('answers 503 at once past the in-flight bound', async () => {
    h = await new Harness(undefined, false, { maxInFlight: 2 }).start();
    h.autoAck = false;
    const first = [post(h.webhook, delivery(notification())), post(h.webhook, delivery(notification()))];
    await until(() => h.published.length === 2);
    const third = await post(h.webhook, delivery(notification()));
    expect(third.status).toBe(503);
    expect(JSON.parse(third.text).error.code).toBe('OVERLOADED');
    for (const p of h.published) p.resolve();
    expect((await Promise.all(first)).map((a) => a.status)).toEqual([200, 200]);
    expect(h.ingress.activeRequests()).toBe(0);
  });

  it('answers 503 when too many bytes wait for Kafka', async () => {
    h = await new Harness(undefined, false, { maxInFlightBytes: 1000 }).start();
    h.pendingBytes = 900;
    const a = await post(h.webhook, delivery(notification({ minBytes: 500 })));
    expect(a.status).toBe(503);
    expect(JSON.parse(a.text).error.code).toBe('OVERLOADED');
  });

  it('while shutting down: readiness 503, new notifications 503 with Connection: close, challenges still answered', async () => {
    h = await new Harness().start();
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
    h.ingress.beginShutdown();
    expect((await fetch(`${h.url}/readyz`)).status).toBe(503);
    const a = await post(h.webhook, delivery(notification()));
    expect(a.status).toBe(503);
    expect(a.headers.get('connection')).toBe('close');
    expect(JSON.parse(a.text).error.code).toBe('SHUTTING_DOWN');
    expect(await (await fetch(`${h.webhook}?challenge=abc`)).text()).toBe('abc');
  });

  it('readiness follows the producer; health does not', async () => {
    h = await new Harness().start();
    h.producerUp = false;
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ kafkaProducer: 'disconnected' });
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  });

  it('refuses bad signatures with 401, counts them by reason and records them', async () => {
    h = await new Harness().start();
    expect((await post(h.webhook, delivery(notification(), { secret: 'wrong' }))).status).toBe(401);
    expect((await post(h.webhook, delivery(notification(), { signature: null }))).status).toBe(401);
    expect((await post(h.webhook, delivery(notification(), { signature: 'nope' }))).status).toBe(401);
    expect(h.rejected.map((r) => r.reason)).toEqual([
      'SIGNATURE_INVALID',
      'SIGNATURE_MISSING',
      'SIGNATURE_INVALID',
    ]);
    expect(h.rejected[0]!.body).toBeDefined();
    const text = await (await fetch(`${h.url}/metrics`)).text();
    expect(text).toContain(
      'nylas_stream_ingress_signature_failures_total{reason="mismatch",service="ingress"} 1',
    );
    expect(text).toContain(
      'nylas_stream_ingress_signature_failures_total{reason="missing",service="ingress"} 1',
    );
    expect(text).toContain(
      'nylas_stream_ingress_signature_failures_total{reason="malformed",service="ingress"} 1',
    );
    expect(text).toContain(
      'nylas_stream_ingress_requests_total{route="notification",status="401",service="ingress"} 3',
    );
    expect(h.published).toHaveLength(0);
  });

  it('accepts mock-webhook-secret only when enabled', async () => {
    h = await new Harness({ default: [CONTRACT_VECTOR.secret] }, false).start();
    const mockSigned = delivery(CONTRACT_VECTOR.body, { signature: CONTRACT_VECTOR.mockSignature });
    expect((await post(h.webhook, mockSigned)).status).toBe(401);
    await h.stop();
    h = await new Harness({ default: [CONTRACT_VECTOR.secret] }, true).start();
    expect((await post(h.webhook, mockSigned)).status).toBe(200);
    expect(
      (await post(h.webhook, delivery(CONTRACT_VECTOR.body, { signature: CONTRACT_VECTOR.signature })))
        .status,
    ).toBe(200);
  });

  it('answers 503 for a destination whose secret is not installed, before reading the body', async () => {
    h = await new Harness().start();
    const a = await post(`${h.webhook}/new-dest`, delivery(notification()));
    expect(a.status).toBe(503);
    expect(JSON.parse(a.text).error.code).toBe('UNKNOWN_DESTINATION');
    expect(h.rejected[0]).toMatchObject({
      reason: 'UNKNOWN_DESTINATION',
      destination: 'new-dest',
      body: undefined,
    });
  });

  it('with the mock secret on, a destination without its own secret still accepts test events only', async () => {
    h = await new Harness({}, true).start();
    const test = delivery(CONTRACT_VECTOR.body, { signature: CONTRACT_VECTOR.mockSignature });
    expect((await post(`${h.webhook}/fresh`, test)).status).toBe(200);
    const real = await post(
      `${h.webhook}/fresh`,
      delivery(notification(), { secret: 'real-but-not-installed' }),
    );
    expect(real.status).toBe(503);
  });

  it('answers 404 to a destination that is not a valid name', async () => {
    h = await new Harness().start();
    expect((await post(`${h.webhook}/bad%20name`, delivery(notification()))).status).toBe(404);
    expect((await fetch(`${h.webhook}/bad%20name?challenge=x`)).status).toBe(404);
  });

  it('accepts a delivery without Content-Type and stores application/json; accepts +json types', async () => {
    h = await new Harness().start();
    expect((await post(h.webhook, delivery(notification(), { contentType: null }))).status).toBe(200);
    expect(h.published[0]!.message.headers?.['content-type']).toBe('application/json');
    const ce = delivery(notification(), { contentType: 'application/cloudevents+json; charset=utf-8' });
    expect((await post(h.webhook, ce)).status).toBe(200);
    expect(h.published[1]!.message.headers?.['content-type']).toBe(
      'application/cloudevents+json; charset=utf-8',
    );
  });

  it('answers 400, 413 and 415 and records each', async () => {
    h = await new Harness().start();
    expect((await post(h.webhook, delivery('not json'))).status).toBe(400);
    expect((await post(h.webhook, delivery('[1]'))).status).toBe(400);
    expect((await post(h.webhook, delivery(notification({ minBytes: 70_000 })))).status).toBe(413);
    expect((await post(h.webhook, delivery(notification(), { contentType: 'application/xml' }))).status).toBe(
      415,
    );
    expect(h.rejected.map((r) => r.reason)).toEqual([
      'MALFORMED_JSON',
      'MALFORMED_ENVELOPE',
      'BODY_TOO_LARGE',
      'UNSUPPORTED_MEDIA_TYPE',
    ]);
    expect(h.rejected[2]!.size).toBeGreaterThan(64 * 1024);
  });

  it('observes ack latency and payload size for accepted notifications', async () => {
    h = await new Harness().start();
    expect((await post(h.webhook, delivery(notification({ minBytes: 2048 })))).status).toBe(200);
    const text = await h.metrics.registry.metrics();
    expect(text).toMatch(/nylas_stream_ingress_ack_latency_seconds_count\{service="ingress"\} 1/);
    expect(text).toMatch(/nylas_stream_ingress_payload_bytes_count\{service="ingress"\} 1/);
    expect(text).toMatch(/nylas_stream_ingress_in_flight\{service="ingress"\} 0/);
  });
});

describe('media type checks', () => {
  it.each([
    'application/json',
    'Application/JSON; charset=UTF-8',
    'application/cloudevents+json',
    undefined,
    '',
  ])('accepts Content-Type %p', (v) => expect(() => checkContentType(v)).not.toThrow());
  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/jsonp'])(
    'refuses Content-Type %p',
    (v) =>
      expect(() => checkContentType(v)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_MEDIA_TYPE' })),
  );
  it('reads Content-Encoding', () => {
    expect(checkContentEncoding(undefined)).toBe('identity');
    expect(checkContentEncoding('identity')).toBe('identity');
    expect(checkContentEncoding('GZIP')).toBe('gzip');
    expect(() => checkContentEncoding('br')).toThrow(
      expect.objectContaining({ code: 'UNSUPPORTED_MEDIA_TYPE' }),
    );
  });
});

/** Sends `pieces` (a number is a pause) over a raw socket and reports the answer and whether the
 * server closed the connection after it (within `waitMs`). */
function rawSession(
  url: string,
  pieces: Array<string | Buffer | number>,
  waitMs: number,
): Promise<{ status: number | undefined; code: string | undefined; closed: boolean }> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    let received = '';
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
      const code = /"code":"([A-Z_]+)"/.exec(received)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), code, closed });
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (c: Buffer) => {
      received += c.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      done();
    });
    socket.on('connect', async () => {
      for (const piece of pieces) {
        if (typeof piece === 'number') await new Promise((r) => setTimeout(r, piece));
        else if (!socket.destroyed) socket.write(piece);
      }
    });
  });
}

const head = (url: string, headers: Array<[string, string]>) =>
  requestHead('POST', '/webhooks/nylas', [['Host', new URL(url).host], ...headers]);
const WRONG_SIGNATURE = hmacHex('something else', 'not-the-secret');

describe('strangers cost nothing (fakes behind the app)', () => {
  let h: Harness;
  afterEach(async () => {
    for (const p of h.published) p.resolve();
    await h.stop();
  });
  const strangers = (o: Partial<IngressStrangersConfig>): IngressStrangersConfig => ({
    bodyDeadlineMs: 10_000,
    headersTimeoutMs: 5000,
    unverifiedMaxBytes: 16 * 1024 * 1024,
    keepAliveTimeoutMs: 65_000,
    ...o,
  });

  it.each([
    ['missing', undefined, 'SIGNATURE_MISSING'],
    ['malformed', 'sha256=abc', 'SIGNATURE_INVALID'],
  ])('answers 401 to a %s signature header on the head alone, and closes', async (_l, sig, code) => {
    h = await new Harness().start();
    // A 60 KB body is declared but never sent: an answer can only come from the head.
    const headers: Array<[string, string]> = [['Content-Length', '60000']];
    if (sig !== undefined) headers.push(['X-Nylas-Signature', sig]);
    const r = await rawSession(h.url, [head(h.url, headers)], 5000);
    expect(r).toEqual({ status: 401, code, closed: true });
    expect(h.rejected.map((d) => [d.reason, d.body, d.size])).toEqual([[code, undefined, 60000]]);
  });

  it('cuts a body that has not arrived by the body deadline: 408 BODY_DEADLINE_EXCEEDED, connection closed', async () => {
    h = await new Harness(undefined, false, { strangers: strangers({ bodyDeadlineMs: 300 }) }).start();
    const r = await rawSession(
      h.url,
      [
        head(h.url, [
          ['Content-Length', '1000'],
          ['X-Nylas-Signature', WRONG_SIGNATURE],
        ]),
        'x'.repeat(10),
      ],
      5000,
    );
    expect(r).toEqual({ status: 408, code: 'BODY_DEADLINE_EXCEEDED', closed: true });
    expect(h.ingress.unverified.usedBytes).toBe(0);
    expect(h.rejected.map((d) => d.reason)).toEqual(['BODY_DEADLINE_EXCEEDED']);
  });

  it('holds at most the unverified budget: stalled strangers are cut oldest first, a signed delivery gets 200', async () => {
    const capacity = 300_000;
    h = await new Harness(undefined, false, {
      strangers: strangers({ unverifiedMaxBytes: capacity }),
    }).start();
    // Ten strangers send 50 KB of a declared 60 KB body, then stall: five fit in the budget.
    const stalled = Array.from({ length: 10 }, () =>
      rawSession(
        h.url,
        [
          head(h.url, [
            ['Content-Length', '60000'],
            ['X-Nylas-Signature', WRONG_SIGNATURE],
          ]),
          Buffer.alloc(50_000, 'a'),
        ],
        8000,
      ),
    );
    let peak = 0;
    await until(() => {
      peak = Math.max(peak, h.ingress.unverified.usedBytes);
      return h.ingress.unverified.evicted >= 5;
    });
    expect(peak).toBeLessThanOrEqual(capacity);
    // A signed delivery arriving now is read, verified and accepted; it cuts another stalled stranger.
    const signed = await post(h.webhook, delivery(notification({ minBytes: 40_000 })));
    expect(signed.status).toBe(200);
    expect(h.ingress.unverified.usedBytes).toBeLessThanOrEqual(capacity);
    await h.stop(); // ends the stalled ones that were never cut
    const results = await Promise.all(stalled);
    const cut = results.filter((r) => r.status === 503);
    expect(cut.length).toBeGreaterThanOrEqual(6);
    for (const r of cut) expect(r).toEqual({ status: 503, code: 'UNVERIFIED_BUDGET_FULL', closed: true });
  });

  it('refuses a source outside the allowlist with 403 before the body, believing X-Forwarded-For only from trusted proxies', async () => {
    const allowlist = new SourceAllowlist({
      cidrs: ['192.0.2.0/24'],
      refreshMs: 60_000,
      logger: silentLogger(),
    });
    const forwarded = delivery(notification(), { headers: { 'x-forwarded-for': '192.0.2.9' } });
    h = await new Harness(undefined, false, {}, { allowlist, trustProxyHops: 0 }).start();
    const denied = await post(h.webhook, forwarded);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.text).error.code).toBe('SOURCE_NOT_ALLOWED');
    expect(h.published).toHaveLength(0);
    await h.stop();
    h = await new Harness(undefined, false, {}, { allowlist, trustProxyHops: 1 }).start();
    expect((await post(h.webhook, forwarded)).status).toBe(200);
    expect((await post(h.webhook, delivery(notification()))).status).toBe(403);
  });

  it("answers a retried 503 while Nylas's address list is not loaded yet", async () => {
    const allowlist = new SourceAllowlist({
      cidrs: [],
      fetchNylasList: () => Promise.reject(new Error('api down')),
      refreshMs: 60_000,
      logger: silentLogger(),
    });
    h = await new Harness(undefined, false, {}, { allowlist, trustProxyHops: 0 }).start();
    const a = await post(h.webhook, delivery(notification()));
    expect(a.status).toBe(503);
    expect(JSON.parse(a.text).error.code).toBe('SOURCE_NOT_ALLOWED');
    expect(a.headers.get('retry-after')).toBe('5');
  });
});
