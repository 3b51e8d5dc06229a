/**
 * Preloads for the state scenario (scenarios/state.ts).
 *
 * - Distinct `message.created` notifications into the raw topic, as the ingress writes them: every one a
 *   new notification id and a new message, so each leaves one dedupe id and one object version in the
 *   processor's state. A sample is kept to be delivered again later (Nylas's retry: same id, next attempt).
 * - Changelog bucket records straight into the state topic, in the processor's own format
 *   (processors/state/changelog.ts `changelogMessages`), for sizes whose processing through the pipeline
 *   would take hours on the bench machine: the changelog is the source of truth, so a processor restores
 *   from these exactly what it would have written itself.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, Message, Producer } from 'kafkajs';
import { changelogMessages } from '../../../processors/state/changelog';
import type { StateChange } from '../../../processors/state/store';
import type { NotificationEnvelope } from '../../../simulator';
import { messageObject } from '../../helpers/raw-notifications';
import { ingressRecord } from './preload';

const SECRET = 'bench-webhook-secret';
const APPLICATION_ID = 'app-bench-state';

/** A `message.created` notification of a message of its own, `ageSeconds` before now. */
export function messageCreated(o: {
  id: string;
  grantId: string;
  messageId: string;
  attempt?: number;
  ageSeconds?: number;
}): NotificationEnvelope {
  return {
    specversion: '1.0',
    type: 'message.created',
    source: '/google/emails/realtime',
    id: o.id,
    time: Math.floor(Date.now() / 1000) - (o.ageSeconds ?? 600),
    webhook_delivery_attempt: o.attempt ?? 1,
    data: { application_id: APPLICATION_ID, object: messageObject(o.grantId, o.messageId) },
  };
}

/** The raw record (ingress format) of `envelope`, keyed by its grant; `partition` pins it when given. */
export function rawRecordOf(envelope: NotificationEnvelope, partition?: number): Message {
  const record = ingressRecord(envelope, SECRET);
  return partition === undefined ? record : { ...record, partition };
}

/** Sends batches with a few requests in flight: the preloads are about volume, not order. */
class BatchSender {
  private pending: Promise<unknown>[] = [];
  private batch: Message[] = [];
  private batchBytes = 0;
  bytes = 0;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly maxBatchBytes: number,
    private readonly inFlight = 4,
  ) {}

  async add(m: Message): Promise<void> {
    const size = Buffer.isBuffer(m.value) ? m.value.length : String(m.value ?? '').length;
    // Cut before the batch would pass the limit: the broker refuses a record batch over its
    // max.message.bytes (the state topic's is 1 MiB, lib/topics.ts).
    if (this.batchBytes + size > this.maxBatchBytes || this.batch.length >= 1000) await this.flush();
    this.batch.push(m);
    this.batchBytes += size;
    this.bytes += size;
  }

  async flush(): Promise<void> {
    if (this.batch.length > 0) {
      this.pending.push(this.producer.send({ topic: this.topic, acks: -1, messages: this.batch }));
      this.batch = [];
      this.batchBytes = 0;
    }
    if (this.pending.length >= this.inFlight) {
      await Promise.all(this.pending);
      this.pending = [];
    }
  }

  async end(): Promise<void> {
    await this.flush();
    await Promise.all(this.pending);
    this.pending = [];
  }
}

export interface DistinctPreload {
  records: number;
  bytes: number;
  seconds: number;
  /** Second deliveries (attempt 2) of `resend` notifications spread over the preload. */
  resend: Message[];
}

/** `count` distinct `message.created` notifications over `grants` grants into `topic`. */
export async function preloadDistinct(
  kafka: Kafka,
  o: { topic: string; count: number; grants: number; resend: number; log: (line: string) => void },
): Promise<DistinctPreload> {
  const started = performance.now();
  const producer = kafka.producer();
  await producer.connect();
  const sender = new BatchSender(producer, o.topic, 1024 * 1024);
  const every = Math.max(1, Math.floor(o.count / o.resend));
  const resend: Message[] = [];
  let lastLog = started;
  try {
    for (let i = 0; i < o.count; i++) {
      const spec = {
        id: randomUUID(),
        grantId: `grant-state-${i % o.grants}`,
        messageId: `msg-${i.toString(36)}`,
      };
      await sender.add(rawRecordOf(messageCreated(spec)));
      if (i % every === 0 && resend.length < o.resend)
        resend.push(rawRecordOf(messageCreated({ ...spec, attempt: 2 })));
      if (performance.now() - lastLog > 30_000) {
        o.log(`state: preloaded ${i + 1}/${o.count} notifications`);
        lastLog = performance.now();
      }
    }
    await sender.end();
  } finally {
    await producer.disconnect();
  }
  return { records: o.count, bytes: sender.bytes, seconds: (performance.now() - started) / 1000, resend };
}

export interface ChangelogPreload {
  entries: number;
  records: number;
  bytes: number;
  seconds: number;
  /** Preloaded notification ids per input partition, spread over its changelog, to be sent again. */
  probes: Map<number, string[]>;
}

/**
 * `entries` dedupe ids (UUIDs, as Nylas's notification ids) spread evenly over `partitions` input
 * partitions, written as the processor writes its changelog: bucket records keyed
 * `[partition, "b", bucketId]` into state partition `partition` (equal partition counts), every entry
 * expiring at `expiresAt` (written now, kept DEDUPE_WINDOW). `probesPerPartition` ids of each partition
 * are kept, taken at even intervals so old and new buckets are both asked.
 */
export async function preloadChangelog(
  kafka: Kafka,
  o: {
    topic: string;
    partitions: number;
    entries: number;
    expiresAt: number;
    probesPerPartition: number;
    log: (line: string) => void;
  },
): Promise<ChangelogPreload> {
  const started = performance.now();
  const producer = kafka.producer();
  await producer.connect();
  // Bucket records are ~256 KiB each: three per request, one partition at a time.
  const sender = new BatchSender(producer, o.topic, 900 * 1024);
  const probes = new Map<number, string[]>();
  const perPartition = Math.ceil(o.entries / o.partitions);
  const every = Math.max(1, Math.floor(perPartition / o.probesPerPartition));
  const CHUNK = 20_000;
  let records = 0;
  let written = 0;
  let lastLog = started;
  try {
    for (let p = 0; p < o.partitions; p++) {
      const mine: string[] = [];
      probes.set(p, mine);
      const total = Math.min(perPartition, o.entries - written);
      for (let done = 0; done < total; done += CHUNK) {
        const changes: StateChange[] = [];
        for (let i = done; i < Math.min(total, done + CHUNK); i++) {
          const id = randomUUID();
          changes.push({ kind: 'dedupe', id, expiresAt: o.expiresAt });
          if (i % every === 0 && mine.length < o.probesPerPartition) mine.push(id);
        }
        const { messages } = changelogMessages(p, p, changes);
        for (const m of messages) await sender.add(m);
        records += messages.length;
        if (performance.now() - lastLog > 30_000) {
          o.log(`state: changelog preload ${written + done + changes.length}/${o.entries} entries`);
          lastLog = performance.now();
        }
      }
      written += total;
    }
    await sender.end();
  } finally {
    await producer.disconnect();
  }
  return {
    entries: written,
    records,
    bytes: sender.bytes,
    seconds: (performance.now() - started) / 1000,
    probes,
  };
}
