/**
 * Poison records (issue 13, item 1): a failure that can be blamed on one record, in any stage, dead-letters
 * that record with its own reason and the round goes on. Each case is a poison record followed by a normal
 * record of the same grant: the round must not throw, the normal one must be emitted, the poison one must be
 * a dead letter with the expected reason. Every state change the round writes stays small (item 2).
 */
import { loadTopicsConfig } from '../../../lib/config';
import { ExpansionCache } from '../../../processors/deferral/index';
import { Pipeline, type PipelineDeps } from '../../../processors/pipeline';
import type { ExpandOutcome } from '../../../processors/stages/expand';
import { normalize } from '../../../processors/stages/normalize';
import { DomainEventEncoder } from '../../../processors/stages/publish';
import { MAX_STATE_ID_CHARS } from '../../../processors/state/keys';
import type { DeadLetterReason, RawRecord } from '../../../processors/types';
import { schemaByName } from '../../../schemas/index';
import {
  envelope,
  messageNotification,
  messageObject,
  RECENT_TIME,
  rawRecord,
} from '../../helpers/raw-notifications';
import { stateIdsOf } from '../../helpers/state-ids';
import { closeTestStores, openTestStore } from '../../helpers/state-store';

/** The round's clock: just after the helpers' envelope times (inside ACCEPT_WINDOW). */
const NOW = (RECENT_TIME + 300) * 1000;

const topics = loadTopicsConfig({});
const schemaIds = new Map(
  [topics.emailMessages, topics.unmodeled, topics.calendarEvents, topics.emailTracking].map((t, i) => [
    t,
    i + 1,
  ]),
);

function pipeline(over: Partial<PipelineDeps> = {}) {
  return new Pipeline({
    topics,
    dedupeWindowMs: 96 * 3_600_000,
    deferAfterMs: 1000,
    normalize,
    encoder: new DomainEventEncoder(schemaIds),
    expand: async () => ({ kind: 'gone' }),
    ...over,
  });
}

let offset = 0;
function raw(body: Record<string, unknown> | string): RawRecord {
  return rawRecord({ grantId: 'g', offset: offset++, body });
}

function normal(id: string): RawRecord {
  return raw(messageNotification('g', { id, messageId: `m-${id}` }));
}

/** An envelope whose `data.object.deep` nests `depth` levels (as text: JSON.stringify would overflow). */
function deepBody(type: string, id: string, depth: number): string {
  const text = JSON.stringify(envelope({ type, id, object: { id: 'b', deep: 'DEEP' } }));
  return text.replace('"DEEP"', `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
}

async function runPoison(poison: RawRecord, deps: Partial<PipelineDeps> = {}) {
  const after = normal(`after-${offset}`);
  const r = await pipeline(deps).run([poison, after], await openTestStore(0), NOW, new ExpansionCache());
  return { r, after };
}

function expectIsolated(
  res: Awaited<ReturnType<typeof runPoison>>,
  poison: RawRecord,
  reason: DeadLetterReason,
  stage: string,
  redrivable: boolean,
) {
  const { r, after } = res;
  expect(r.deadLetters.map((d) => [d.record.offset, d.reason, d.stage, d.redrivable])).toEqual([
    [poison.offset, reason, stage, redrivable],
  ]);
  expect(r.domain.map((d) => String(d.message.headers?.['source-offset']))).toEqual([after.offset]);
  expect(r.handledOffsets).toEqual([poison.offset, after.offset]);
}

afterAll(closeTestStores);

describe('poison records: dead-lettered with a reason, the round goes on', () => {
  it('decode/order: "time" as a 400-digit string (Number() is Infinity) → MALFORMED_ENVELOPE', async () => {
    const poison = raw({
      ...envelope({ type: 'message.created', id: 'p1', object: messageObject('g', 'x') }),
      time: `1${'0'.repeat(400)}`,
    });
    expectIsolated(await runPoison(poison), poison, 'MALFORMED_ENVELOPE', 'decode', false);
  });

  it('decode/order: "time" as a 400-digit JSON number stays MALFORMED_ENVELOPE', async () => {
    const body = JSON.stringify(
      envelope({ type: 'message.created', id: 'p2', object: messageObject('g', 'x') }),
    ).replace(`"time":${RECENT_TIME}`, `"time":1${'0'.repeat(400)}`);
    const poison = raw(body);
    expectIsolated(await runPoison(poison), poison, 'MALFORMED_ENVELOPE', 'decode', false);
  });

  it('decode/order: "time" finite but beyond any date (1e300 s) → MALFORMED_ENVELOPE, not an unpublishable version', async () => {
    const poison = raw({
      ...envelope({ type: 'folder.updated', id: 'p3', object: { id: 'f' } }),
      time: 1e300,
    });
    expectIsolated(await runPoison(poison), poison, 'MALFORMED_ENVELOPE', 'decode', false);
  });

  it('order: an event clock beyond any date falls back to the envelope time (still emitted, safe version)', async () => {
    const ok = raw(
      envelope({
        type: 'event.updated',
        id: 'ev1',
        object: { id: 'e', grant_id: 'g', updated_at: 1e300, sequence: 1 },
      }),
    );
    const r = await pipeline().run([ok], await openTestStore(0), NOW, new ExpansionCache());
    expect(r.deadLetters).toEqual([]);
    const v = schemaByName('events').type.fromBuffer((r.domain[0]!.message.value as Buffer).subarray(5)) as {
      object_version: number;
    };
    expect(v.object_version).toBe(RECENT_TIME * 1000);
  });

  it('decode: an unmodeled object nested 5,000 levels deep → TOO_DEEPLY_NESTED', async () => {
    const poison = raw(deepBody('booking.created', 'p4', 5000));
    expectIsolated(await runPoison(poison), poison, 'TOO_DEEPLY_NESTED', 'decode', false);
  });

  it('decode: a notification id over the limit (1 MiB) → ID_TOO_LONG; so is an object id', async () => {
    const longId = 'n'.repeat(1024 * 1024 + 1);
    const poison = raw(messageNotification('g', { id: longId, messageId: 'm' }));
    expectIsolated(await runPoison(poison), poison, 'ID_TOO_LONG', 'decode', false);
    const poison2 = raw(messageNotification('g', { id: 'p5', messageId: 'm'.repeat(10_000) }));
    expectIsolated(await runPoison(poison2), poison2, 'ID_TOO_LONG', 'decode', false);
  });

  it('normalize: any exception (a bug meeting an odd payload) → NORMALIZE_FAILED, re-drivable', async () => {
    const poison = raw(messageNotification('g', { id: 'p6', messageId: 'boom' }));
    const res = await runPoison(poison, {
      normalize: (n, t) => {
        if (n.object.objectId === 'boom') throw new RangeError('Maximum call stack size exceeded');
        return normalize(n, t);
      },
    });
    expectIsolated(res, poison, 'NORMALIZE_FAILED', 'normalize', true);
    expect(res.r.deadLetters[0]).toMatchObject({ code: 'INTERNAL' });
    expect(res.r.deadLetters[0]?.message).toContain('RangeError: Maximum call stack size exceeded');
  });

  it('normalize: a payload that cannot describe the change → NORMALIZE_FAILED, re-drivable (docs/operations.md, redrive)', async () => {
    const body = messageNotification('g', { id: 'p7', messageId: 'm' });
    (body.data as Record<string, unknown>).object = null;
    const poison = raw(body);
    expectIsolated(await runPoison(poison), poison, 'NORMALIZE_FAILED', 'normalize', true);
  });

  it('encode: any exception (not only a value the schema refuses) → SCHEMA_ENCODE_FAILED, re-drivable', async () => {
    const poison = raw(messageNotification('g', { id: 'p8', messageId: 'bad' }));
    const res = await runPoison(poison, {
      normalize: (n, t) => {
        const e = normalize(n, t);
        if (n.object.objectId === 'bad') e.value.object_version = 'not a long';
        return e;
      },
    });
    expectIsolated(res, poison, 'SCHEMA_ENCODE_FAILED', 'encode', true);
    const real = new DomainEventEncoder(schemaIds);
    const poison2 = raw(messageNotification('g', { id: 'p9', messageId: 'crash' }));
    const res2 = await runPoison(poison2, {
      encoder: {
        message: (e) => {
          if (e.value.object_id === 'crash') throw new TypeError('encoder bug');
          return real.message(e);
        },
      },
    });
    expectIsolated(res2, poison2, 'SCHEMA_ENCODE_FAILED', 'encode', true);
    expect(res2.r.deadLetters[0]).toMatchObject({
      code: 'INTERNAL',
      message: 'encode threw TypeError: encoder bug',
    });
  });

  it('a fault that is not the record’s (a retriable error) still fails the round', async () => {
    const { TransientError } = await import('../../../lib/errors');
    const p = pipeline({
      normalize: () => {
        throw new TransientError('REGISTRY_UNAVAILABLE', 'registry down');
      },
    });
    await expect(p.run([normal('t1')], await openTestStore(0), NOW, new ExpansionCache())).rejects.toThrow(
      'registry down',
    );
  });
});

describe('oversized outputs (issue 13, item 2)', () => {
  const limit = 256 * 1024;
  const limited = { ...topics, maxMessageBytes: limit };

  it('an expanded message over the domain topic limit is emitted without its body, saying how big it was', async () => {
    const body = `<p>${'x'.repeat(limit)}</p>`;
    const expand = async (): Promise<ExpandOutcome> => ({
      kind: 'expanded',
      object: { id: 'big', grant_id: 'g', body },
    });
    const poison = raw(messageNotification('g', { id: 'big1', messageId: 'big', truncated: true }));
    const after = normal('after-big');
    const r = await pipeline({ topics: limited, expand }).run(
      [poison, after],
      await openTestStore(0),
      NOW,
      new ExpansionCache(),
    );
    expect(r.deadLetters).toEqual([]);
    expect(r.domain).toHaveLength(2);
    const v = schemaByName('messages').type.fromBuffer(
      (r.domain[0]!.message.value as Buffer).subarray(5),
    ) as {
      expanded: boolean;
      body_omitted_bytes: number | null;
      message: { body: string | null; subject: string | null };
    };
    expect(v).toMatchObject({ expanded: true, body_omitted_bytes: Buffer.byteLength(body) });
    expect(v.message.body).toBeNull();
    expect(v.message.subject).toBe('subject of big');
    for (const d of r.domain) expect((d.message.value as Buffer).length).toBeLessThan(limit);
    // Counted, so an operator sees how often it happens (nylas_stream_processor_notifications_total).
    expect(r.outcomes.filter((o) => o.outcome === 'body_omitted')).toEqual([
      { family: 'message', outcome: 'body_omitted' },
    ]);
  });

  it('an event still too large without its body (or of another family) → EVENT_TOO_LARGE, re-drivable', async () => {
    const poison = raw(
      messageNotification('g', {
        id: 'big2',
        messageId: 'hdr',
        object: messageObject('g', 'hdr', { subject: 's'.repeat(limit) }),
      }),
    );
    const res = await runPoison(poison, { topics: limited });
    expectIsolated(res, poison, 'EVENT_TOO_LARGE', 'produce', true);
    const poison2 = raw(
      envelope({ type: 'booking.created', id: 'big3', object: { id: 'b', blob: 'b'.repeat(limit) } }),
    );
    expectIsolated(
      await runPoison(poison2, { topics: limited }),
      poison2,
      'EVENT_TOO_LARGE',
      'produce',
      true,
    );
  });
});

describe('state entries are bounded (issue 13, item 2)', () => {
  it('ids above the state limit are remembered by their SHA-256; a redelivery is still a duplicate', async () => {
    const longId = `n-${'x'.repeat(2000)}`;
    const longObject = `m-${'y'.repeat(2000)}`;
    const store = await openTestStore(0);
    const p = pipeline();
    const first = await p.run(
      [
        raw(
          messageNotification('g', {
            id: longId,
            messageId: longObject,
            action: 'updated',
            time: RECENT_TIME + 200,
          }),
        ),
      ],
      store,
      NOW,
      new ExpansionCache(),
    );
    expect(first.domain).toHaveLength(1);
    for (const id of stateIdsOf(first.stateChanges))
      expect(id.length).toBeLessThanOrEqual(MAX_STATE_ID_CHARS);
    await store.apply(first.stateChanges);
    const again = await p.run(
      [
        raw(
          messageNotification('g', {
            id: longId,
            messageId: longObject,
            action: 'updated',
            time: RECENT_TIME + 200,
            attempt: 2,
          }),
        ),
        raw(
          messageNotification('g', {
            id: 'older',
            messageId: longObject,
            action: 'updated',
            time: RECENT_TIME + 100,
          }),
        ),
      ],
      store,
      NOW,
      new ExpansionCache(),
    );
    expect(again.domain).toEqual([]);
    expect(again.outcomes.map((o) => o.outcome).sort()).toEqual(['duplicate', 'stale']);
  });
});
