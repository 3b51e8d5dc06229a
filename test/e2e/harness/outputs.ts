/**
 * Reads what the pipeline produced, as a downstream consumer would: every domain topic and the DLQ with
 * `read_committed` (cli/ops/read-to-end.ts), Avro decoded with the writer schema fetched by id from the
 * registry over HTTP (not with our encoder), plus the raw topic (the ingress's writes) for accounting.
 */
import avro from 'avsc';
import type { Admin, IHeaders, Kafka } from 'kafkajs';
import { verifySignature } from '../../../ingress/signature';
import type { TopicsConfig } from '../../../lib/config';
import { readToEnd } from '../../../lib/read-to-end';
import { domainTopicNames } from '../../../lib/topics';
import { DLQ_HEADERS } from '../../../processors/dead-letter';
import { avroObject, stateDigest } from './state';

export interface EmittedEvent {
  topic: string;
  partition: number;
  offset: bigint;
  eventId: string;
  eventType: string;
  nylasType: string;
  notificationId: string;
  grantId: string;
  objectId: string;
  /** Processor object type, from the topic (tracking: the trigger, as processors/stages/order.ts does). */
  objectType: string;
  version: bigint;
  action: string;
  expanded: boolean;
  /** Events that carry no version state (delivery results, tracking without counters, `.legacy`). */
  stateless: boolean;
  digest: string | undefined;
  /** Emitted as deleted because the API answered 404 when expanding (`message.deleted` from a `.truncated`). */
  goneOnExpand: boolean;
  /** The record's timestamp (epoch ms; the processor's clock when it produced it). */
  timestamp: number;
}

export interface DeadLetterRecord {
  notificationId: string | undefined;
  reason: string;
  stage: string;
  partition: number;
  offset: bigint;
}

export interface RawWrite {
  notificationId: string | undefined;
  attempt: number | undefined;
  partition: number;
  offset: bigint;
  signatureValid: boolean;
}

export interface PipelineOutputs {
  events: EmittedEvent[];
  deadLetters: DeadLetterRecord[];
  raw: RawWrite[];
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const v = headers?.[name];
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined) return undefined;
  return Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
}

/** Decodes Confluent-framed Avro with the writer schema fetched by id from the registry. */
export class RegistryDecoder {
  private readonly types = new Map<number, avro.Type>();
  constructor(private readonly registryUrl: string) {}

  async decode(buf: Buffer): Promise<Record<string, unknown>> {
    if (buf.length < 5 || buf.readUInt8(0) !== 0) throw new Error('not Confluent-framed Avro (magic byte)');
    const id = buf.readUInt32BE(1);
    let type = this.types.get(id);
    if (!type) {
      const res = await fetch(`${this.registryUrl}/schemas/ids/${id}`, {
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`registry answered ${res.status} for schema id ${id}`);
      const body = (await res.json()) as { schema: string };
      type = avro.Type.forSchema(JSON.parse(body.schema));
      this.types.set(id, type);
    }
    return type.fromBuffer(buf.subarray(5)) as Record<string, unknown>;
  }
}

function objectTypeOf(topic: string, topics: TopicsConfig, value: Record<string, unknown>): string {
  switch (topic) {
    case topics.emailMessages:
      return 'message';
    case topics.emailFolders:
      return 'folder';
    case topics.calendarEvents:
      return 'event';
    case topics.calendarCalendars:
      return 'calendar';
    case topics.contacts:
      return 'contact';
    case topics.grants:
      return 'grant';
    case topics.emailDelivery:
      return 'delivery';
    case topics.emailTracking:
      return String(value.event_type);
    default:
      return String(value.event_type).split('.')[0] ?? 'unmodeled';
  }
}

function isStatelessEvent(topic: string, topics: TopicsConfig, v: Record<string, unknown>): boolean {
  if (topic === topics.emailDelivery) return true;
  if (topic !== topics.emailTracking) return false;
  if (v.legacy === true) return true;
  const counter =
    v.action === 'OPENED' ? v.open_count : v.action === 'REPLIED' ? v.reply_count : v.link_clicks;
  return counter === null || counter === undefined;
}

export async function readOutputs(
  kafka: Kafka,
  admin: Admin,
  topics: TopicsConfig,
  registryUrl: string,
  secret: string,
): Promise<PipelineOutputs> {
  const decoder = new RegistryDecoder(registryUrl);
  const events: EmittedEvent[] = [];
  for (const topic of domainTopicNames(topics)) {
    await readToEnd(kafka, admin, { topic, timeoutMs: 600_000 }, async (partition, m) => {
      const v = await decoder.decode(m.value as Buffer);
      const objectType = objectTypeOf(topic, topics, v);
      const deleted = v.action === 'DELETED';
      const nylasType = String(v.nylas_type);
      events.push({
        topic,
        partition,
        offset: BigInt(m.offset),
        eventId: String(v.event_id),
        eventType: String(v.event_type),
        nylasType,
        notificationId: String(v.nylas_notification_id),
        grantId: String(v.grant_id),
        objectId: String(v.object_id),
        objectType,
        version: BigInt(v.object_version as number),
        action: String(v.action),
        expanded: v.expanded === true,
        stateless: isStatelessEvent(topic, topics, v),
        digest: stateDigest(objectType, deleted, avroObject(objectType, v)),
        goneOnExpand: deleted && nylasType.split('.').includes('truncated'),
        timestamp: Number(m.timestamp),
      });
    });
  }
  const deadLetters: DeadLetterRecord[] = [];
  await readToEnd(kafka, admin, { topic: topics.dlq, timeoutMs: 600_000 }, (partition, m) => {
    deadLetters.push({
      notificationId: header(m.headers, 'nylas-notification-id'),
      reason: header(m.headers, DLQ_HEADERS.reason) ?? '(none)',
      stage: header(m.headers, DLQ_HEADERS.stage) ?? '(none)',
      partition,
      offset: BigInt(m.offset),
    });
  });
  const raw: RawWrite[] = [];
  await readToEnd(kafka, admin, { topic: topics.raw, timeoutMs: 600_000 }, (partition, m) => {
    const attempt = Number(header(m.headers, 'nylas-delivery-attempt'));
    raw.push({
      notificationId: header(m.headers, 'nylas-notification-id'),
      attempt: Number.isInteger(attempt) ? attempt : undefined,
      partition,
      offset: BigInt(m.offset),
      signatureValid: verifySignature(m.value ?? Buffer.alloc(0), header(m.headers, 'nylas-signature'), [
        secret,
      ]).ok,
    });
  });
  return { events, deadLetters, raw };
}
