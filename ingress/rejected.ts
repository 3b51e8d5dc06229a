/**
 * Records refused deliveries to nylas.webhooks.rejected so that "every delivery fails with 401" is
 * diagnosable (which destination, what was sent, how big, its hash) without a debugger. A token bucket
 * bounds the rate, so unauthenticated senders cannot fill Kafka; what the bucket drops is still
 * counted. The record never carries the signature value, nor cookies or credentials; the body is
 * represented by its size, SHA-256 and a bounded sample. Recording is best effort: it never delays or
 * changes the answer, and it goes through its own producer and batches (ingress/index.ts), so a missing
 * rejected topic or a refused write costs only the rejected record, never a valid delivery's batch.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Message } from 'kafkajs';
import type { Logger } from '../lib/logger';
import type { IngressMetrics } from './metrics';

export const REJECTED_HEADERS = {
  reason: 'nylas-reject-reason',
  destination: 'nylas-destination',
  receivedAt: 'received-at',
} as const;

/** Request headers that never go to Kafka with their value. */
const SENSITIVE_HEADERS = new Set(['x-nylas-signature', 'authorization', 'proxy-authorization', 'cookie']);

export interface RejectedDelivery {
  /** The error code, e.g. SIGNATURE_INVALID. */
  reason: string;
  status: number;
  message: string;
  destination: string;
  method: string;
  path: string;
  remoteAddress: string | undefined;
  headers: IncomingHttpHeaders;
  receivedAt: number;
  /** The body as far as it was read (undefined when it was not read at all). */
  body: Buffer | undefined;
  /** Bytes the sender sent or declared, when the body was not (fully) read. */
  size: number | undefined;
}

export interface RejectedRecordValue {
  reason: string;
  status: number;
  message: string;
  destination: string;
  method: string;
  path: string;
  remoteAddress: string | null;
  receivedAt: number;
  headers: Record<string, string>;
  size: number | null;
  sha256: string | null;
  sample: string | null;
  sampleEncoding: 'utf8' | 'base64' | null;
  sampleTruncated: boolean;
}

/** Headers with every sensitive value replaced by a description of its shape. */
export function sanitizeHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    if (SENSITIVE_HEADERS.has(name)) {
      const shape = name === 'x-nylas-signature' && /^[0-9a-fA-F]{64}$/.test(text.trim()) ? ', hex' : '';
      out[name] = `[redacted: ${text.length} chars${shape}]`;
    } else {
      out[name] = text;
    }
  }
  return out;
}

function sampleOf(
  body: Buffer,
  max: number,
  gzip: boolean,
): Pick<RejectedRecordValue, 'sample' | 'sampleEncoding' | 'sampleTruncated'> {
  if (max === 0 || body.length === 0)
    return { sample: null, sampleEncoding: null, sampleTruncated: body.length > 0 };
  const slice = body.subarray(0, max);
  const truncated = body.length > max;
  const text = slice.toString('utf8');
  // Text that survives a UTF-8 round trip is kept readable (a cut in the last character is tolerated).
  const readable = !gzip && Buffer.from(text, 'utf8').equals(slice) && !text.includes('\u0000');
  return readable
    ? { sample: text, sampleEncoding: 'utf8', sampleTruncated: truncated }
    : { sample: slice.toString('base64'), sampleEncoding: 'base64', sampleTruncated: truncated };
}

export function buildRejectedRecord(d: RejectedDelivery, sampleBytes: number): Message {
  const gzip = String(d.headers['content-encoding'] ?? '')
    .toLowerCase()
    .includes('gzip');
  const value: RejectedRecordValue = {
    reason: d.reason,
    status: d.status,
    message: d.message,
    destination: d.destination,
    method: d.method,
    path: d.path,
    remoteAddress: d.remoteAddress ?? null,
    receivedAt: d.receivedAt,
    headers: sanitizeHeaders(d.headers),
    size: d.body?.length ?? d.size ?? null,
    sha256: d.body === undefined ? null : createHash('sha256').update(d.body).digest('hex'),
    ...(d.body === undefined
      ? { sample: null, sampleEncoding: null, sampleTruncated: false }
      : sampleOf(d.body, sampleBytes, gzip)),
  };
  return {
    key: d.destination,
    value: JSON.stringify(value),
    headers: {
      [REJECTED_HEADERS.reason]: d.reason,
      [REJECTED_HEADERS.destination]: d.destination,
      [REJECTED_HEADERS.receivedAt]: String(d.receivedAt),
    },
    timestamp: String(d.receivedAt),
  };
}

/** A token bucket: `ratePerSecond` refill, at most `burst` tokens. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface RejectedRecorderOptions {
  topic: string;
  ratePerSecond: number;
  burst: number;
  sampleBytes: number;
  ackTimeoutMs: number;
  /** Where records go (the batcher's publish). */
  publish: (topic: string, message: Message, deadline: number) => Promise<void>;
  metrics: IngressMetrics;
  logger: Logger;
  now?: () => number;
}

export class RejectedRecorder {
  private readonly bucket: TokenBucket;

  constructor(private readonly options: RejectedRecorderOptions) {
    this.bucket = new TokenBucket(options.ratePerSecond, options.burst, options.now);
  }

  /** Returns whether the delivery was sent for recording (false: dropped by the rate limit). */
  record(d: RejectedDelivery): boolean {
    const reason = d.reason.toLowerCase();
    const { metrics, logger } = this.options;
    if (!this.bucket.take()) {
      metrics.rejected.inc({ reason, recorded: 'false' });
      return false;
    }
    logger.warn(
      { reason: d.reason, status: d.status, destination: d.destination, remoteAddress: d.remoteAddress },
      `delivery refused: ${d.message}`,
    );
    const message = buildRejectedRecord(d, this.options.sampleBytes);
    // Counted by outcome: a missing topic or a refused write shows as recorded="failed" (and a warning,
    // as rare as the bucket allows) and costs nothing but this record.
    this.options.publish(this.options.topic, message, Date.now() + this.options.ackTimeoutMs).then(
      () => metrics.rejected.inc({ reason, recorded: 'true' }),
      (err: unknown) => {
        metrics.rejected.inc({ reason, recorded: 'failed' });
        logger.warn(
          { reason: d.reason, topic: this.options.topic, error: (err as Error)?.message ?? String(err) },
          'could not record a refused delivery to the rejected topic',
        );
      },
    );
    return true;
  }
}
