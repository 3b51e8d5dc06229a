/**
 * The notification envelope (docs/nylas-contract.md §1) and its wire bytes. Bodies are built once
 * per notification; each delivery attempt only swaps the `webhook_delivery_attempt` digits (§2.3: same
 * `id`, counter incremented, re-signed), so preparing 200 000 notifications stays cheap.
 */
import { gzipSync } from 'node:zlib';
import { signBody } from '../signing';

export interface NotificationData {
  application_id: string;
  /** §1: only on tracking, send outcome, bounce and booking triggers. */
  grant_id?: string;
  /** §3.2: only on message.send_failed. */
  reason?: string;
  error?: Record<string, unknown>;
  object: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface NotificationEnvelope {
  specversion: '1.0';
  type: string;
  source: string;
  id: string;
  /** Unix seconds (§1, §9 #9). Kept the same on retries (§9 #8). */
  time: number;
  webhook_delivery_attempt: number;
  data: NotificationData;
}

export interface BuildNotificationInput {
  type: string;
  source: string;
  id: string;
  time: number;
  applicationId: string;
  object: Record<string, unknown> | null;
  /** Put `grant_id` at the `data` level (§1). */
  dataGrantId?: string;
  /** More `data`-level fields (`reason`, `error` on send_failed). */
  dataExtras?: Record<string, unknown>;
}

/** Builds an envelope with the key order of the contract's examples (receivers must not rely on it). */
export function buildNotification(input: BuildNotificationInput): NotificationEnvelope {
  const data: NotificationData = { application_id: input.applicationId, object: null };
  if (input.dataGrantId !== undefined) data.grant_id = input.dataGrantId;
  if (input.dataExtras) Object.assign(data, input.dataExtras);
  // Keep `object` last, as in the examples.
  delete (data as Partial<NotificationData>).object;
  data.object = input.object;
  return {
    specversion: '1.0',
    type: input.type,
    source: input.source,
    id: input.id,
    time: input.time,
    webhook_delivery_attempt: 1,
    data,
  };
}

/** The grant a notification is about: `data.object.grant_id`, else `data.grant_id` (§1). */
export function grantIdOf(env: NotificationEnvelope): string | undefined {
  const fromObject = env.data.object?.grant_id;
  if (typeof fromObject === 'string') return fromObject;
  return typeof env.data.grant_id === 'string' ? env.data.grant_id : undefined;
}

const ATTEMPT_KEY = '"webhook_delivery_attempt":';

/**
 * A notification serialized once. `bodyFor(n)` gives the exact JSON bytes of attempt n; `signedFor`
 * adds gzip (compressed delivery, §2.1) and the signature over the bytes actually sent.
 */
export class PreparedNotification {
  readonly id: string;
  readonly type: string;
  readonly time: number;
  /** Uncompressed size of attempt 1, in bytes. */
  readonly bytes: number;
  private readonly head: Buffer;
  private readonly tail: Buffer;
  private readonly first: Buffer;

  constructor(readonly envelope: NotificationEnvelope) {
    this.id = envelope.id;
    this.type = envelope.type;
    this.time = envelope.time;
    const json = JSON.stringify({ ...envelope, webhook_delivery_attempt: 1 });
    const at = json.indexOf(`${ATTEMPT_KEY}1`);
    if (at < 0) throw new Error('envelope serialization lost webhook_delivery_attempt');
    this.first = Buffer.from(json, 'utf8');
    const split = Buffer.byteLength(json.slice(0, at + ATTEMPT_KEY.length), 'utf8');
    this.head = this.first.subarray(0, split);
    this.tail = this.first.subarray(split + 1);
    this.bytes = this.first.length;
  }

  /** The JSON bytes of delivery attempt `attempt` (1-based). */
  bodyFor(attempt: number): Buffer {
    if (attempt === 1) return this.first;
    return Buffer.concat([this.head, Buffer.from(String(attempt), 'utf8'), this.tail]);
  }

  /** The bytes to send and their signature. With `compressed`, the gzip bytes are what is signed (§2.1). */
  signedFor(attempt: number, secret: string, compressed = false): { body: Buffer; signature: string } {
    const json = this.bodyFor(attempt);
    const body = compressed ? gzipSync(json, { level: 6 }) : json;
    return { body, signature: signBody(body, secret) };
  }
}

export function prepareNotification(envelope: NotificationEnvelope): PreparedNotification {
  return new PreparedNotification(envelope);
}
