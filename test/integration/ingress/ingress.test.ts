/**
 * The ingress against the real broker: challenge, signature verification (the contract's vectors,
 * rotation, gzip, a rotated-out secret), bad input, the Kafka record byte for byte, the rejected topic,
 * and 1,000 concurrent deliveries.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { createLogger } from '../../../lib/logger';
import { startTestIngress, type TestIngress } from '../../helpers/ingress';
import {
  type CollectedRecord,
  headerString,
  pollUntil,
  TopicCollector,
  testKafka,
} from '../../helpers/kafka';
import { captureLog } from '../../helpers/log-capture';
import {
  CONTRACT_VECTOR,
  type Delivery,
  delivery,
  hmacHex,
  notification,
  post,
} from '../../helpers/signed-payload';

const SECRET = 'test-secret';
const MAX_BODY = 256 * 1024;

describe('ingress (real broker)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let ingress: TestIngress;
  const warnings = captureLog();
  let raw: TopicCollector;
  let rejected: TopicCollector;
  let secretsDir: string;
  let secretsFile: string;

  beforeAll(async () => {
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
    secretsDir = mkdtempSync(join(tmpdir(), 'ingress-secrets-'));
    secretsFile = join(secretsDir, 'secrets.json');
    writeFileSync(secretsFile, JSON.stringify({ rotating: ['rotation-old', 'rotation-new'] }));
    ingress = await startTestIngress(admin, {
      env: {
        NYLAS_WEBHOOK_SECRETS: `${SECRET},${CONTRACT_VECTOR.secret},billing=billing-secret`,
        NYLAS_WEBHOOK_SECRETS_FILE: secretsFile,
        NYLAS_WEBHOOK_SECRETS_RELOAD_MS: '100',
        INGRESS_MAX_BODY_BYTES: String(MAX_BODY),
        INGRESS_REJECTED_RATE_PER_SEC: '1000',
        INGRESS_REJECTED_BURST: '1000',
        // Misspelt (INGRESS_ACK_TIMEOUT_MS): ignored with a warning, never a refusal to start.
        INGRESS_ACK_TIMEOUT: '5s',
      },
      logger: createLogger({ name: 'ingress', level: 'warn', destination: warnings.stream }),
    });
    raw = await new TopicCollector(kafka, [ingress.rawTopic]).start();
    rejected = await new TopicCollector(kafka, [ingress.rejectedTopic]).start();
  });

  afterAll(async () => {
    await ingress?.stop();
    await raw?.stop();
    await rejected?.stop();
    await admin?.disconnect();
    rmSync(secretsDir, { recursive: true, force: true });
  });

  it('warns at start-up about an unknown variable under its prefixes, naming the closest one, and serves', () => {
    const unknown = warnings.lines().filter((l) => String(l.msg).startsWith('unknown variable'));
    expect(unknown.map((l) => [l.variable, l.didYouMean])).toEqual([
      ['INGRESS_ACK_TIMEOUT', 'INGRESS_ACK_TIMEOUT_MS'],
    ]);
    expect(ingress.running.isReady()).toBe(true);
  });

  const url = (destination?: string) =>
    destination === undefined ? ingress.webhookUrl : `${ingress.webhookUrl}/${destination}`;

  const recordWithId = (id: string): Promise<CollectedRecord> =>
    pollUntil(() => raw.records.find((r) => headerString(r.headers, 'nylas-notification-id') === id), {
      description: `raw record for notification ${id}`,
    });

  describe('challenge', () => {
    it.each([
      ['a UUID', 'bc609b38-c81f-47fb-a275-1d9bd61a968b', 'bc609b38-c81f-47fb-a275-1d9bd61a968b'],
      ['URL-encoded characters', encodeURIComponent('a/b=c&d e+f?'), 'a/b=c&d e+f?'],
      ['unusual characters', encodeURIComponent('é✓ 🚀 "quoted" <tag>'), 'é✓ 🚀 "quoted" <tag>'],
      ['an empty value', '', ''],
    ])(
      'answers %s with exactly the value, text/plain and a Content-Length',
      async (_label, query, expected) => {
        const res = await fetch(`${url()}?challenge=${query}`);
        const body = Buffer.from(await res.arrayBuffer());
        expect(res.status).toBe(200);
        expect(body.equals(Buffer.from(expected, 'utf8'))).toBe(true);
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
        expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(expected)));
        expect(res.headers.get('transfer-encoding')).toBeNull();
      },
    );

    it('answers on a destination route too, even one without secrets yet (Nylas creates the secret after)', async () => {
      const res = await fetch(`${url('brand-new')}?challenge=xyz`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('xyz');
    });

    it('refuses a GET without a challenge, and one with two', async () => {
      expect((await fetch(url())).status).toBe(400);
      expect((await fetch(`${url()}?challenge=a&challenge=b`)).status).toBe(400);
    });
  });

  describe('signature', () => {
    it("accepts the contract's test vector and writes the exact bytes, keyed by the grant id", async () => {
      const d = delivery(CONTRACT_VECTOR.body, { signature: CONTRACT_VECTOR.signature });
      expect(d.body.length).toBe(342);
      const res = await post(url(), d);
      expect(res.status).toBe(200);
      const rec = await recordWithId('a1b2c3d4-0000-4000-8000-000000000001');
      expect(rec.value?.equals(Buffer.from(CONTRACT_VECTOR.body))).toBe(true);
      expect(rec.key?.toString()).toBe('e19f8e1a-eb1c-4673-b602-ba4a189b18bd');
      expect(headerString(rec.headers, 'nylas-signature')).toBe(CONTRACT_VECTOR.signature);
    });

    it('refuses the mock-secret signature of the test vector while the mock secret is not enabled', async () => {
      const res = await post(
        url(),
        delivery(CONTRACT_VECTOR.body, { signature: CONTRACT_VECTOR.mockSignature }),
      );
      expect(res.status).toBe(401);
    });

    it('refuses a wrong signature (401) and records the refusal without the signature value', async () => {
      const n = notification();
      const d = delivery(n, { secret: 'not-the-secret' });
      const res = await post(url(), d);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.text).error.code).toBe('SIGNATURE_INVALID');
      const rec = await pollUntil(
        () =>
          rejected.records.find((r) =>
            r.value?.toString().includes(createHash('sha256').update(d.body).digest('hex')),
          ),
        { description: 'rejected record' },
      );
      const value = JSON.parse(rec.value!.toString());
      expect(value).toMatchObject({
        reason: 'SIGNATURE_INVALID',
        status: 401,
        destination: 'default',
        size: d.body.length,
        sampleEncoding: 'utf8',
        sample: d.body.toString('utf8'),
      });
      expect(value.headers['x-nylas-signature']).toBe('[redacted: 64 chars, hex]');
      expect(rec.value!.toString()).not.toContain(d.signature);
      expect(headerString(rec.headers, 'nylas-reject-reason')).toBe('SIGNATURE_INVALID');
      expect(raw.records.some((r) => r.value?.equals(d.body))).toBe(false);
    });

    it('refuses a missing or empty signature (401 SIGNATURE_MISSING) and a malformed one', async () => {
      const missing = await post(url(), delivery(notification(), { signature: null }));
      expect(missing.status).toBe(401);
      expect(JSON.parse(missing.text).error.code).toBe('SIGNATURE_MISSING');
      const empty = await post(url(), delivery(notification(), { signature: '' }));
      expect(empty.status).toBe(401);
      const prefixed = await post(url(), delivery(notification(), { signature: 'sha1=abc' }));
      expect(prefixed.status).toBe(401);
      expect(JSON.parse(prefixed.text).error.code).toBe('SIGNATURE_INVALID');
    });

    it('reads the signature header in any case, and hex in upper case', async () => {
      const n = notification();
      const body = Buffer.from(JSON.stringify(n));
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(url(), {
          method: 'POST',
          headers: {
            'X-NYLAS-SIGNATURE': hmacHex(body, SECRET).toUpperCase(),
            'CONTENT-TYPE': 'application/json',
            'Content-Length': String(body.length),
          },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(status).toBe(200);
      await recordWithId(n.id as string);
    });

    it('accepts both secrets of a destination during rotation, then rejects the rotated-out one', async () => {
      const oldSigned = () => delivery(notification(), { secret: 'rotation-old' });
      const newSigned = () => delivery(notification(), { secret: 'rotation-new' });
      expect((await post(url('rotating'), oldSigned())).status).toBe(200);
      expect((await post(url('rotating'), newSigned())).status).toBe(200);
      // Another destination's secret is not valid here.
      expect((await post(url('rotating'), delivery(notification(), { secret: SECRET }))).status).toBe(401);

      writeFileSync(secretsFile, JSON.stringify({ rotating: ['rotation-new'] }));
      await pollUntil(async () => (await post(url('rotating'), oldSigned())).status === 401, {
        description: 'the rotated-out secret to be refused after the file is re-read',
      });
      const after = newSigned();
      expect((await post(url('rotating'), after)).status).toBe(200);
      const rec = await recordWithId(JSON.parse(after.body.toString()).id);
      expect(headerString(rec.headers, 'nylas-destination')).toBe('rotating');
    });

    it('verifies a gzip delivery on the compressed bytes and stores the compressed bytes', async () => {
      const n = notification({ objectGrantId: 'grant-gzip' });
      const d = delivery(n, { gzip: true });
      expect(d.body[0]).toBe(0x1f);
      expect((await post(url(), d)).status).toBe(200);
      const rec = await recordWithId(n.id as string);
      expect(rec.value?.equals(d.body)).toBe(true);
      expect(headerString(rec.headers, 'content-encoding')).toBe('gzip');
      expect(rec.key?.toString()).toBe('grant-gzip');

      // Signed over the decompressed JSON instead: refused.
      const wrong = delivery(n, { gzip: true, signature: hmacHex(JSON.stringify(n), SECRET) });
      expect((await post(url(), wrong)).status).toBe(401);
    });

    it('answers 503 with Retry-After for a destination whose secret is not installed yet', async () => {
      const res = await post(url('not-installed'), delivery(notification(), { secret: 'whatever' }));
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });

  describe('bad input', () => {
    it('answers 400 to validly signed malformed JSON', async () => {
      const res = await post(url(), delivery('{"id": "x", "type": '));
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text).error.code).toBe('MALFORMED_JSON');
    });

    it('answers 415 to a content type that is not JSON, and to an unknown content encoding', async () => {
      expect((await post(url(), delivery(notification(), { contentType: 'text/plain' }))).status).toBe(415);
      expect(
        (await post(url(), delivery(notification(), { headers: { 'content-encoding': 'br' } }))).status,
      ).toBe(415);
    });

    it('answers 413 to a declared oversize body before the body is sent', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(url(), {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': String(100 * 1024 * 1024),
            // Well-formed (a missing one is refused first, with 401, on the head alone).
            'x-nylas-signature': hmacHex('not this body', SECRET),
          },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        req.on('error', (err) => reject(err));
        req.flushHeaders(); // headers only: a server waiting for the body would never answer
      });
      expect(status).toBe(413);
    });

    it('answers 413 to an endless chunked body without reading it all, and cuts the connection', async () => {
      const chunk = Buffer.alloc(16 * 1024, 'a');
      const result = await new Promise<{ status: number; sentAtAnswer: number }>((resolve, reject) => {
        let sent = 0;
        let answered = false;
        const req = request(url(), {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-nylas-signature': hmacHex('not this body', SECRET),
          },
        });
        const pump = () => {
          while (!answered && !req.destroyed) {
            sent += chunk.length;
            if (!req.write(chunk)) {
              req.once('drain', pump);
              return;
            }
          }
        };
        req.on('response', (res) => {
          answered = true;
          res.resume();
          resolve({ status: res.statusCode ?? 0, sentAtAnswer: sent });
        });
        req.on('error', (err) => {
          if (!answered) reject(err);
        });
        pump();
      });
      expect(result.status).toBe(413);
      // The sender got its answer after a bounded amount (limit + socket buffers), not at the end of an
      // endless body.
      expect(result.sentAtAnswer).toBeGreaterThan(MAX_BODY);
      expect(result.sentAtAnswer).toBeLessThan(MAX_BODY + 32 * 1024 * 1024);
    });

    it('accepts a validly signed notification without any grant id, keyed by the application id', async () => {
      const n = notification({ type: 'something.new_tomorrow', applicationId: 'app-42' });
      expect((await post(url(), delivery(n))).status).toBe(200);
      const rec = await recordWithId(n.id as string);
      expect(rec.key?.toString()).toBe('app-42');
      expect(headerString(rec.headers, 'nylas-type')).toBe('something.new_tomorrow');
    });

    it('keys by data.grant_id when data.object has none (tracking, send results)', async () => {
      const n = notification({ type: 'message.opened', dataGrantId: 'grant-at-data' });
      expect((await post(url(), delivery(n))).status).toBe(200);
      expect((await recordWithId(n.id as string)).key?.toString()).toBe('grant-at-data');
    });
  });

  describe('the Kafka record', () => {
    it('is keyed by the grant id, holds the request body byte for byte, and carries every header', async () => {
      const id = randomUUID();
      // Unusual but legal JSON formatting: the stored bytes must be these, not a re-serialization.
      const bodyText = `{ "type":"message.updated", "id":"${id}",\n  "webhook_delivery_attempt": 2, "specversion":"1.0","source":"/google/emails/realtime","time":1723821985,"data":{"application_id":"app-1","object":{"grant_id":"grant-7","id":"m-1","subject":"Ünïcödé ✓"}}}  `;
      const d = delivery(bodyText, { contentType: 'application/json; charset=utf-8' });
      const before = Date.now();
      const res = await post(
        url('billing'),
        delivery(bodyText, { secret: 'billing-secret', contentType: 'application/json; charset=utf-8' }),
      );
      const after = Date.now();
      expect(res.status).toBe(200);
      const rec = await recordWithId(id);
      expect(rec.value?.equals(d.body)).toBe(true);
      expect(rec.key?.toString()).toBe('grant-7');
      const h = (name: string) => headerString(rec.headers, name);
      expect(h('nylas-signature')).toBe(hmacHex(d.body, 'billing-secret'));
      expect(h('content-type')).toBe('application/json; charset=utf-8');
      expect(h('content-encoding')).toBeUndefined();
      expect(h('nylas-notification-id')).toBe(id);
      expect(h('nylas-type')).toBe('message.updated');
      expect(h('nylas-delivery-attempt')).toBe('2');
      expect(h('nylas-destination')).toBe('billing');
      const receivedAt = Number(h('received-at'));
      expect(receivedAt).toBeGreaterThanOrEqual(before);
      expect(receivedAt).toBeLessThanOrEqual(after);
    });
  });

  describe('concurrency', () => {
    it('answers 1,000 concurrent signed POSTs with 200 and writes 1,000 distinct ids', async () => {
      const deliveries: Delivery[] = Array.from({ length: 1000 }, (_, i) =>
        delivery(notification({ objectGrantId: `grant-${i % 37}`, minBytes: 2048 })),
      );
      const ids = new Set(deliveries.map((d) => JSON.parse(d.body.toString()).id as string));
      const batchesBefore = await batchCount(ingress);
      const answers = await Promise.all(deliveries.map((d) => post(url(), d)));
      expect(answers.filter((a) => a.status === 200).length).toBe(1000);
      const found = await pollUntil(
        () => {
          const seen = new Set(
            raw.records
              .map((r) => headerString(r.headers, 'nylas-notification-id'))
              .filter((id) => ids.has(id!)),
          );
          return seen.size === 1000 ? seen : undefined;
        },
        { description: '1,000 distinct ids in the raw topic' },
      );
      expect(found.size).toBe(1000);
      // Micro-batching: fewer produce requests than records (how many fewer depends on how fast the
      // requests arrive on a busy machine; the batching rules themselves are unit-tested).
      expect((await batchCount(ingress)) - batchesBefore).toBeLessThan(1000);
    });
  });
});

async function batchCount(ingress: TestIngress): Promise<number> {
  const metric = await ingress.running.metrics.batchRecords.get();
  return metric.values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
}
