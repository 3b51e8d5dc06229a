/**
 * `backfill`: what the command reads and writes around its plan (backfill-plan.ts). The grants of the
 * application through GET /v3/grants (--all-grants), the backfill topic's partitions, and the requests,
 * written one per grant on its grant's partition (processors/backfill/records.ts) for the coordinator
 * to apply. The command never calls the list endpoints itself: the coordinator does, in the processor
 * that owns the grant's partition, so its objects go through the same raw topic, dedupe and ordering as
 * every notification.
 */
import type { Admin, Kafka, Message } from 'kafkajs';
import { cappedBackoff } from '../../lib/backoff';
import { errorCodeOf, errorMessage } from '../../lib/errors';
import { KeyHashPartitioner } from '../../lib/kafkajs/partitioner';
import { checkedSendBatch } from '../../lib/kafkajs/send-coverage';
import { type BackfillRequest, grantPartition, requestKey } from '../../processors/backfill/records';
import { LIST_PAGE_LIMIT, type ListedGrant } from './backfill-plan';
import { OpsRefusal } from './errors';

export interface NylasApiAccess {
  apiKey: string;
  apiUri: string;
}

export interface ListGrantsOptions {
  /** Each call fails after this long (default 30 s). */
  timeoutMs?: number;
  /** Attempts per page for 429, 5xx and network failures (default 4). */
  attempts?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/** Pages of GET /v3/grants before giving up: 200 000 grants, far beyond any application we serve; a
 * cursor that never ends is the API's bug, not a reason to loop forever. */
const MAX_GRANT_PAGES = 1000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function retryAfterMs(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header.trim()) * 1000;
}

/** One page: `{data, next_cursor}`, retried on 429 (honouring Retry-After), 5xx and network failures. */
async function grantsPage(
  api: NylasApiAccess,
  pageToken: string | null,
  o: Required<ListGrantsOptions>,
): Promise<{ data: unknown[]; nextCursor: string | null }> {
  const url = new URL(`${api.apiUri.replace(/\/+$/, '')}/v3/grants`);
  url.searchParams.set('limit', String(LIST_PAGE_LIMIT));
  if (pageToken !== null) url.searchParams.set('page_token', pageToken);
  const doing = 'listing grants (GET /v3/grants)';
  for (let attempt = 0; ; attempt++) {
    let failure: string;
    let wait = cappedBackoff(attempt, 500, 8000);
    try {
      const res = await o.fetch(url, {
        headers: { authorization: `Bearer ${api.apiKey}`, accept: 'application/json' },
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      const text = await res.text();
      let body: { data?: unknown; next_cursor?: unknown; error?: { type?: string; message?: string } };
      try {
        body = text === '' ? {} : JSON.parse(text);
      } catch {
        body = {};
      }
      if (res.ok) {
        if (!Array.isArray(body.data))
          throw new OpsRefusal(`${doing}: the answer has no data list (${text.slice(0, 200)})`);
        const next =
          typeof body.next_cursor === 'string' && body.next_cursor !== '' ? body.next_cursor : null;
        return { data: body.data, nextCursor: next };
      }
      failure = `Nylas API ${res.status} ${body.error?.type ?? ''}: ${body.error?.message ?? text.slice(0, 200)}`;
      if (res.status !== 429 && res.status < 500) {
        const hint = res.status === 401 ? ' (check NYLAS_API_KEY and NYLAS_API_URI: US or EU region)' : '';
        throw new OpsRefusal(`${doing}: ${failure}${hint}`.replace(/ +:/, ':'));
      }
      wait = retryAfterMs(res.headers.get('retry-after')) ?? wait;
    } catch (err) {
      if (err instanceof OpsRefusal) throw err;
      failure = `cannot reach ${api.apiUri} (${errorMessage(err)})`;
    }
    if (attempt + 1 >= o.attempts)
      throw new OpsRefusal(`${doing}: ${failure} (${o.attempts} attempts)`.replace(/ +:/, ':'));
    await o.sleep(wait);
  }
}

/** Every grant of the application: GET /v3/grants, paged (limit 200, page_token ← next_cursor; §4.2). */
export async function listGrants(
  api: NylasApiAccess,
  options: ListGrantsOptions = {},
): Promise<ListedGrant[]> {
  const o: Required<ListGrantsOptions> = {
    timeoutMs: options.timeoutMs ?? 30_000,
    attempts: options.attempts ?? 4,
    fetch: options.fetch ?? fetch,
    sleep: options.sleep ?? sleep,
  };
  const out: ListedGrant[] = [];
  const cursors = new Set<string>();
  let token: string | null = null;
  for (let page = 0; page < MAX_GRANT_PAGES; page++) {
    const { data, nextCursor } = await grantsPage(api, token, o);
    for (const g of data) {
      const rec = (typeof g === 'object' && g !== null ? g : {}) as Record<string, unknown>;
      if (typeof rec.id !== 'string' || rec.id === '') continue;
      out.push({
        id: rec.id,
        ...(typeof rec.provider === 'string' ? { provider: rec.provider } : {}),
        ...(typeof rec.grant_status === 'string' ? { grantStatus: rec.grant_status } : {}),
      });
    }
    if (nextCursor === null) return out;
    if (cursors.has(nextCursor))
      throw new OpsRefusal(
        `listing grants (GET /v3/grants): the API answered a cursor it gave before (${nextCursor})`,
      );
    cursors.add(nextCursor);
    token = nextCursor;
  }
  throw new OpsRefusal(`listing grants (GET /v3/grants): more than ${MAX_GRANT_PAGES} pages; giving up`);
}

/** The backfill topic's partitions, or why requests cannot be written there. */
export interface BackfillTopic {
  name: string;
  /** Undefined when the topic does not exist. */
  partitions: number | undefined;
  /** Why --execute refuses (a missing topic, partitions that differ from the raw topic's). */
  problem?: string;
}

export async function backfillTopic(
  admin: Admin,
  topics: { backfill: string; raw: string },
): Promise<BackfillTopic> {
  const existing = new Set(await admin.listTopics());
  if (!existing.has(topics.backfill)) {
    return {
      name: topics.backfill,
      partitions: undefined,
      problem: `no such topic: ${topics.backfill} (create it with \`nylas-stream topics create\`)`,
    };
  }
  const partitions = (await admin.fetchTopicOffsets(topics.backfill)).length;
  if (existing.has(topics.raw)) {
    const raw = (await admin.fetchTopicOffsets(topics.raw)).length;
    // The coordinator owning raw partition p reads backfill partition p: with other counts a request
    // would wait on a partition whose owner never sees its grant's notifications.
    if (raw !== partitions) {
      return {
        name: topics.backfill,
        partitions,
        problem:
          `${topics.backfill} has ${partitions} partition(s), ${topics.raw} has ${raw}: they must be co-partitioned ` +
          '(the processor owning raw partition p applies the requests of backfill partition p)',
      };
    }
  }
  return { name: topics.backfill, partitions };
}

export interface WrittenRequest {
  request: BackfillRequest;
  partition: number;
}

/** A write that failed part way: what is known to be written, and what may or may not be. */
export class BackfillWriteError extends OpsRefusal {
  constructor(
    message: string,
    readonly written: WrittenRequest[],
    readonly uncertain: BackfillRequest[],
    readonly notSent: BackfillRequest[],
  ) {
    super(message);
  }
}

/** Requests per send: a send is one Produce request per leader, and these records are small. */
const SEND_CHUNK = 500;

/**
 * Writes each request to its grant's partition (acks=all), through an idempotent producer so kafkajs's
 * own retries cannot write one twice, each send checked against the partitions it wrote
 * (lib/kafkajs/send-coverage.ts). Retries are limited, so a broker that is gone fails the command
 * instead of hanging it; the producer is never used again after a failure (kafkajs's warning about
 * idempotence with limited retries describes a resend that does not happen here).
 */
export async function writeRequests(
  kafka: Kafka,
  topic: string,
  partitions: number,
  requests: readonly BackfillRequest[],
): Promise<WrittenRequest[]> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: KeyHashPartitioner,
    retry: { retries: 5 },
  });
  await producer.connect();
  const written: WrittenRequest[] = [];
  try {
    for (let i = 0; i < requests.length; i += SEND_CHUNK) {
      const chunk = requests.slice(i, i + SEND_CHUNK);
      const placed = chunk.map((request) => ({
        request,
        partition: grantPartition(request.grantId, partitions),
      }));
      const messages: Message[] = placed.map(({ request, partition }) => ({
        key: requestKey(request.grantId, request.id),
        value: JSON.stringify(request),
        partition,
      }));
      try {
        await checkedSendBatch(producer, { acks: -1, topicMessages: [{ topic, messages }] });
      } catch (err) {
        const rest = requests.slice(i + SEND_CHUNK);
        throw new BackfillWriteError(
          `writing backfill requests to ${topic} failed (${errorCodeOf(err)}: ${errorMessage(err)}): ` +
            `${written.length} written, ${chunk.length} in the failed send (written or not: \`nylas-stream backfill --status\` ` +
            `shows which arrived), ${rest.length} not sent`,
          written,
          chunk,
          rest,
        );
      }
      written.push(...placed);
    }
  } finally {
    await producer.disconnect();
  }
  return written;
}
