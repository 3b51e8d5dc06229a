/**
 * Preloads nylas.webhooks.raw for the processor scenario with what the ingress would have written:
 * realistic traffic from the simulator's generator (every family, variants, occasional >1 MB messages
 * delivered as `.truncated`), a share delivered again by Nylas (same id, next delivery attempt, new
 * bytes), and some reordering (a notification held back a few places). Records are built with the
 * ingress's own record builder, so key, value and headers are exactly the ingress's.
 */
import type { Kafka, Message } from 'kafkajs';
import { summarizeEnvelope } from '../../../ingress/envelope';
import { encodeRawRecord } from '../../../lib/raw-record';
import {
  type GeneratorOptions,
  type NotificationEnvelope,
  NotificationGenerator,
  Random,
  signBody,
} from '../../../simulator';
import type { World } from '../../../simulator/world/world';

export interface PreloadOptions {
  topic: string;
  /** Records to write, duplicates included. */
  count: number;
  duplicateRate: number;
  reorderRate: number;
  /** A held-back notification moves up to this many places later. */
  reorderWindow: number;
  seed: number;
  secret: string;
  /** Generator overrides (body sizes, truncation limit); see scenarios/processor.ts for why. */
  generator?: Omit<GeneratorOptions, 'world'>;
}

export interface PreloadResult {
  records: number;
  unique: number;
  duplicates: number;
  reordered: number;
  truncated: number;
  bytes: number;
  seconds: number;
}

/** The Kafka record the ingress writes for a signed, uncompressed delivery of `envelope`. */
export function ingressRecord(envelope: NotificationEnvelope, secret: string): Message {
  const body = Buffer.from(JSON.stringify(envelope));
  return encodeRawRecord({
    body,
    signature: signBody(body, secret),
    contentType: 'application/json',
    contentEncoding: 'identity',
    destination: 'default',
    receivedAt: Date.now(),
    envelope: summarizeEnvelope(body),
  });
}

export async function preloadRaw(kafka: Kafka, world: World, o: PreloadOptions): Promise<PreloadResult> {
  const started = performance.now();
  const generator = new NotificationGenerator({ ...o.generator, world });
  const rng = new Random(o.seed);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const recent: NotificationEnvelope[] = [];
  const held: Array<{ envelope: NotificationEnvelope; release: number }> = [];
  const result: PreloadResult = {
    records: 0,
    unique: 0,
    duplicates: 0,
    reordered: 0,
    truncated: 0,
    bytes: 0,
    seconds: 0,
  };
  let batch: ReturnType<typeof encodeRawRecord>[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await producer.send({ topic: o.topic, acks: -1, messages: batch });
    batch = [];
    batchBytes = 0;
  };
  const write = async (envelope: NotificationEnvelope) => {
    const record = ingressRecord(envelope, o.secret);
    const bytes = (record.value as Buffer).length;
    batch.push(record);
    batchBytes += bytes;
    result.records += 1;
    result.bytes += bytes;
    if (batchBytes >= 512 * 1024 || batch.length >= 500) await flush();
  };

  let position = 0;
  while (result.records < o.count) {
    position += 1;
    let envelope: NotificationEnvelope;
    if (recent.length > 0 && rng.chance(o.duplicateRate)) {
      // Nylas delivers again: same id, next attempt (the bytes differ).
      const original = rng.pick(recent);
      envelope = { ...original, webhook_delivery_attempt: original.webhook_delivery_attempt + 1 };
      result.duplicates += 1;
    } else {
      const n = generator.next();
      envelope = n.envelope;
      if (n.truncated) result.truncated += 1;
      result.unique += 1;
      recent.push(envelope);
      if (recent.length > 2000) recent.shift();
    }
    if (rng.chance(o.reorderRate)) {
      held.push({ envelope, release: position + rng.int(1, o.reorderWindow) });
      result.reordered += 1;
    } else {
      await write(envelope);
    }
    for (let i = held.length - 1; i >= 0; i--) {
      const h = held[i];
      if (h && h.release <= position && result.records < o.count) {
        held.splice(i, 1);
        await write(h.envelope);
      }
    }
  }
  await flush();
  await producer.disconnect();
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
