/**
 * Poison records against the real broker, registry and simulator API (issue 13, items 1 and 2): per stage,
 * a poison record followed by a normal record of the same grant (same partition, same round or the next)
 * → the normal one is emitted within a bounded time and the poison one is in the DLQ with its reason and
 * its exact bytes. Before the fix each of these failed its round forever (the partition was taken over
 * again at the same offset every ~500 ms), so the normal record never came out.
 *
 * Topics are created with the record limits `topics create` sets, from TOPIC_MAX_MESSAGE_BYTES = 2 MiB
 * here (the state topic keeps 1 MiB + 12), so an oversized output is refused by the broker exactly as in
 * production.
 */
import type { Message } from 'kafkajs';
import type { RunningProcessor } from '../../../processors/index';
import { normalize } from '../../../processors/stages/normalize';
import type { DeadLetterReason } from '../../../processors/types';
import { headerString, pollUntil, type TopicCollector, uniqueName } from '../../helpers/kafka';
import { byNotification, decodeDomainEvent, ProcessorHarness } from '../../helpers/processor-harness';
import {
  envelope,
  messageNotification,
  messageObject,
  RECENT_TIME,
  rawMessage,
} from '../../helpers/raw-notifications';

const LIMIT = 2 * 1024 * 1024;
/** How long a poison record may hold its partition in these tests (a takeover loop never ends). */
const BOUND_MS = 30_000;

describe('poison records (real broker): dead-lettered with their reason, the partition goes on', () => {
  const h = new ProcessorHarness({
    partitions: 1,
    grants: 2,
    env: { TOPIC_MAX_MESSAGE_BYTES: String(LIMIT) },
  });
  let proc: RunningProcessor;
  let messages: TopicCollector;
  let dlq: TopicCollector;

  beforeAll(async () => {
    await h.setUp();
    // A normalizer with two bugs that only these records meet (the real one is pure and lenient).
    proc = await h.startProcessor(
      {},
      {
        normalize: (n, topics) => {
          if (n.object.objectId === 'normalize-bug') throw new RangeError('Maximum call stack size exceeded');
          const event = normalize(n, topics);
          if (n.object.objectId === 'encode-bug') event.value.object_version = 'not a long';
          return event;
        },
      },
    );
    [messages, dlq] = await Promise.all([h.collect([h.topics.emailMessages]), h.collect([h.topics.dlq])]);
  });

  afterAll(async () => {
    await h.tearDown();
  });

  /**
   * Produces `poison` then a normal message notification of the same grant — of the same object when
   * `sameObject` is given: a truncated poison waits in its object's lane, so only a later notification of
   * that object proves its lane went on — and waits (bounded) for the normal one to be emitted.
   */
  async function poisonThenNormal(grantId: string, poison: Message, sameObject?: string) {
    const normalId = uniqueName('normal');
    const caseId = headerString(poison.headers ?? {}, 'nylas-notification-id') as string;
    const messageId = sameObject ?? uniqueName('m');
    const normal = messageNotification(grantId, {
      id: normalId,
      messageId,
      action: 'updated',
      // Later than the poison's (RECENT_TIME), inside ACCEPT_WINDOW.
      time: RECENT_TIME + 10,
    });
    await h.produce([poison, rawMessage({ grantId, body: normal })]);
    await pollUntil(() => byNotification(messages.records, normalId).length === 1, {
      timeoutMs: BOUND_MS,
      description: `the notification after ${caseId.slice(0, 40)}`,
    });
    return caseId;
  }

  async function deadLetter(
    caseId: string,
    poison: Message,
    reason: DeadLetterReason,
    stage: string,
    redrivable: boolean,
  ) {
    const [dl] = await pollUntil(() => {
      const found = byNotification(dlq.records, caseId);
      return found.length > 0 ? found : undefined;
    });
    expect(byNotification(dlq.records, caseId)).toHaveLength(1);
    expect({
      reason: headerString(dl!.headers, 'dlq-reason'),
      stage: headerString(dl!.headers, 'dlq-stage'),
      redrivable: headerString(dl!.headers, 'dlq-redrivable'),
    }).toEqual({ reason, stage, redrivable: String(redrivable) });
    expect(Buffer.compare(dl!.value as Buffer, poison.value as Buffer)).toBe(0);
    return dl!;
  }

  function caseMessage(grantId: string, body: Record<string, unknown> | string, caseId: string): Message {
    return rawMessage({ grantId, body, extraHeaders: { 'nylas-notification-id': caseId } });
  }

  it('decode: an unmodeled object nested 5,000 levels deep → TOO_DEEPLY_NESTED', async () => {
    const g = uniqueName('g-deep');
    const id = uniqueName('deep');
    const text = JSON.stringify(
      envelope({ type: 'booking.created', id, object: { id: 'b', grant_id: g, deep: 'DEEP' } }),
    );
    const poison = caseMessage(g, text.replace('"DEEP"', `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`), id);
    await poisonThenNormal(g, poison);
    await deadLetter(id, poison, 'TOO_DEEPLY_NESTED', 'decode', false);
  });

  it('decode: a notification id over 1 MiB (a changelog record the state topic refuses) → ID_TOO_LONG', async () => {
    const g = uniqueName('g-longid');
    const caseId = uniqueName('longid');
    const body = messageNotification(g, { id: `${caseId}-${'x'.repeat(1024 * 1024 + 1)}`, messageId: 'm' });
    const poison = caseMessage(g, body, caseId);
    await poisonThenNormal(g, poison);
    await deadLetter(caseId, poison, 'ID_TOO_LONG', 'decode', false);
  });

  it('order: "time" as a 400-digit string (Infinity, then RangeError in BigInt) → MALFORMED_ENVELOPE at decode', async () => {
    const g = uniqueName('g-time');
    const id = uniqueName('time');
    const poison = caseMessage(
      g,
      { ...messageNotification(g, { id, messageId: 'm' }), time: `1${'0'.repeat(400)}` },
      id,
    );
    await poisonThenNormal(g, poison);
    await deadLetter(id, poison, 'MALFORMED_ENVELOPE', 'decode', false);
  });

  it('normalize: a normalizer exception on one record → NORMALIZE_FAILED, re-drivable', async () => {
    const g = uniqueName('g-norm');
    const id = uniqueName('norm');
    const poison = caseMessage(g, messageNotification(g, { id, messageId: 'normalize-bug' }), id);
    await poisonThenNormal(g, poison);
    const dl = await deadLetter(id, poison, 'NORMALIZE_FAILED', 'normalize', true);
    expect(headerString(dl.headers, 'dlq-error-code')).toBe('INTERNAL');
  });

  it('encode: a value the schema refuses → SCHEMA_ENCODE_FAILED, re-drivable', async () => {
    const g = uniqueName('g-enc');
    const id = uniqueName('enc');
    const poison = caseMessage(g, messageNotification(g, { id, messageId: 'encode-bug' }), id);
    await poisonThenNormal(g, poison);
    await deadLetter(id, poison, 'SCHEMA_ENCODE_FAILED', 'encode', true);
  });

  it('expand + produce: an expanded message larger than the domain topic accepts is emitted without its body', async () => {
    const g = h.world.grantIds[0] as string;
    const mid = uniqueName('m-huge');
    const body = `<div>${'x'.repeat(LIMIT + 512 * 1024)}</div>`;
    h.world.upsertObject(g, 'messages', messageObject(g, mid, { body }));
    const id = uniqueName('huge');
    await poisonThenNormal(
      g,
      caseMessage(g, messageNotification(g, { id, messageId: mid, truncated: true }), id),
    );
    // The other object's notification can come out first: a fetch of this size under load may outlast
    // EXPANSION_DEFER_AFTER, which sets this object aside until its expansion settles.
    const huge = await pollUntil(() => {
      const found = byNotification(messages.records, id);
      return found.length > 0 ? found : undefined;
    });
    const [e] = await Promise.all(huge.map(decodeDomainEvent));
    expect(e?.value).toMatchObject({
      expanded: true,
      object_id: mid,
      body_omitted_bytes: Buffer.byteLength(body),
    });
    expect(e?.value.message).toMatchObject({ body: null, subject: `subject of ${mid}` });
    expect(byNotification(dlq.records, id)).toEqual([]);
  });

  it('expand + produce: still too large without its body → EVENT_TOO_LARGE, re-drivable', async () => {
    const g = h.world.grantIds[1] as string;
    const mid = uniqueName('m-subject');
    h.world.upsertObject(g, 'messages', messageObject(g, mid, { subject: 's'.repeat(LIMIT + 1024) }));
    const id = uniqueName('subject');
    const poison = caseMessage(g, messageNotification(g, { id, messageId: mid, truncated: true }), id);
    await poisonThenNormal(g, poison, mid);
    await deadLetter(id, poison, 'EVENT_TOO_LARGE', 'produce', true);
    expect(byNotification(messages.records, id)).toEqual([]);
  });

  it('kept its partition running throughout: no round failed', async () => {
    const g = uniqueName('g-last');
    await poisonThenNormal(g, caseMessage(g, '{', uniqueName('last')));
    const m = await proc.metrics.transactions.get();
    expect(m.values.find((v) => v.labels.outcome === 'aborted')?.value ?? 0).toBe(0);
  });
});
