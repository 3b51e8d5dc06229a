import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Message } from 'kafkajs';
import { createIngressMetrics, type IngressMetrics } from '../../../ingress/metrics';
import type { RejectedDelivery } from '../../../ingress/rejected';
import { MOCK_WEBHOOK_SECRET } from '../../../ingress/secrets';
import {
  checkContentEncoding,
  checkContentType,
  createIngressApp,
  type IngressApp,
} from '../../../ingress/server';
import { ErrorCodes, TransientError } from '../../../lib/errors';
import { silentLogger } from '../../../lib/logger';
import { createMetricsRegistry } from '../../../lib/metrics';
import { CONTRACT_VECTOR, delivery, notification, post } from '../../helpers/signed-payload';

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
    config: Partial<{ maxInFlight: number; maxInFlightBytes: number; maxBodyBytes: number }> = {},
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
