import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Message } from 'kafkajs';
import { createIngressMetrics } from '../../../ingress/metrics';
import {
  buildRejectedRecord,
  type RejectedDelivery,
  RejectedRecorder,
  sanitizeHeaders,
  TokenBucket,
} from '../../../ingress/rejected';
import { silentLogger } from '../../../lib/logger';
import { createMetricsRegistry } from '../../../lib/metrics';

const SIG = 'ab'.repeat(32);

function refused(overrides: Partial<RejectedDelivery> = {}): RejectedDelivery {
  return {
    reason: 'SIGNATURE_INVALID',
    status: 401,
    message: 'X-Nylas-Signature does not match any secret of this destination',
    destination: 'default',
    method: 'POST',
    path: '/webhooks/nylas',
    remoteAddress: '127.0.0.1',
    headers: {
      'x-nylas-signature': SIG,
      'content-type': 'application/json',
      cookie: 'c=1',
      authorization: 'Bearer t',
    },
    receivedAt: 1_700_000_000_000,
    body: Buffer.from('{"id":"n-1"}'),
    size: undefined,
    ...overrides,
  };
}

describe('sanitizeHeaders', () => {
  it('keeps ordinary headers and describes sensitive ones without their values', () => {
    expect(
      sanitizeHeaders({
        'x-nylas-signature': SIG,
        authorization: 'Bearer t',
        'user-agent': 'nylas',
        a: ['1', '2'],
      }),
    ).toEqual({
      'x-nylas-signature': '[redacted: 64 chars, hex]',
      authorization: '[redacted: 8 chars]',
      'user-agent': 'nylas',
      a: '1, 2',
    });
  });
});

describe('buildRejectedRecord', () => {
  it('carries reason, sanitized headers, size, sha256 and a readable sample; never the signature', () => {
    const d = refused();
    const m = buildRejectedRecord(d, 1024);
    const text = String(m.value);
    const v = JSON.parse(text);
    expect(v).toMatchObject({
      reason: 'SIGNATURE_INVALID',
      status: 401,
      destination: 'default',
      size: d.body!.length,
      sha256: createHash('sha256').update(d.body!).digest('hex'),
      sample: '{"id":"n-1"}',
      sampleEncoding: 'utf8',
      sampleTruncated: false,
    });
    expect(text).not.toContain(SIG);
    expect(text).not.toContain('Bearer t');
    expect(text).not.toContain('c=1');
    expect(m.key).toBe('default');
    expect(m.headers).toMatchObject({
      'nylas-reject-reason': 'SIGNATURE_INVALID',
      'received-at': '1700000000000',
    });
  });

  it('bounds the sample and uses base64 for binary (gzip) bodies', () => {
    const big = refused({ body: Buffer.alloc(5000, 'a') });
    expect(JSON.parse(String(buildRejectedRecord(big, 100).value))).toMatchObject({
      size: 5000,
      sample: 'a'.repeat(100),
      sampleTruncated: true,
    });
    const gz = gzipSync('{"x":1}');
    const zipped = refused({ body: gz, headers: { 'content-encoding': 'gzip' } });
    expect(JSON.parse(String(buildRejectedRecord(zipped, 1000).value))).toMatchObject({
      sample: gz.toString('base64'),
      sampleEncoding: 'base64',
    });
  });

  it('records the declared size when the body was not read', () => {
    const v = JSON.parse(
      String(buildRejectedRecord(refused({ body: undefined, size: 9_999_999 }), 100).value),
    );
    expect(v).toMatchObject({ size: 9_999_999, sha256: null, sample: null });
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then the rate', () => {
    let now = 0;
    const b = new TokenBucket(2, 3, () => now);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    now += 500; // one token back at 2/s
    expect([b.take(), b.take()]).toEqual([true, false]);
    now += 60_000;
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
  });
});

describe('RejectedRecorder', () => {
  it('publishes under the rate limit and counts what it drops', async () => {
    const registry = createMetricsRegistry({ service: 'test', collectDefaults: false });
    const metrics = createIngressMetrics(registry);
    const published: Message[] = [];
    const recorder = new RejectedRecorder({
      topic: 'rejected',
      ratePerSecond: 0,
      burst: 2,
      sampleBytes: 100,
      ackTimeoutMs: 1000,
      publish: async (_t, m) => {
        published.push(m);
      },
      metrics,
      logger: silentLogger(),
      now: () => 0,
    });
    expect([recorder.record(refused()), recorder.record(refused()), recorder.record(refused())]).toEqual([
      true,
      true,
      false,
    ]);
    expect(published).toHaveLength(2);
    await new Promise((r) => setImmediate(r)); // counted when the write is acknowledged
    const text = await registry.metrics();
    expect(text).toContain(
      'nylas_stream_ingress_rejected_total{reason="signature_invalid",recorded="true",service="test"} 2',
    );
    expect(text).toContain(
      'nylas_stream_ingress_rejected_total{reason="signature_invalid",recorded="false",service="test"} 1',
    );
  });

  it('never throws when publishing fails, and counts the failed write as recorded="failed"', async () => {
    const registry = createMetricsRegistry({ service: 't', collectDefaults: false });
    const recorder = new RejectedRecorder({
      topic: 'rejected',
      ratePerSecond: 10,
      burst: 10,
      sampleBytes: 100,
      ackTimeoutMs: 1000,
      publish: () => Promise.reject(new Error('kafka down')),
      metrics: createIngressMetrics(registry),
      logger: silentLogger(),
    });
    expect(recorder.record(refused())).toBe(true);
    await new Promise((r) => setImmediate(r));
    const text = await registry.metrics();
    expect(text).toContain(
      'nylas_stream_ingress_rejected_total{reason="signature_invalid",recorded="failed",service="t"} 1',
    );
    expect(text).not.toContain('recorded="true"');
  });
});
