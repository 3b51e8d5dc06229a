import { loadTopicsConfig } from '../../../lib/config';
import { TransientError } from '../../../lib/errors';
import { ExpansionCache } from '../../../processors/deferral/index';
import { Pipeline, type PipelineDeps } from '../../../processors/pipeline';
import type { ExpandOutcome } from '../../../processors/stages/expand';
import { normalize } from '../../../processors/stages/normalize';
import { DomainEventEncoder } from '../../../processors/stages/publish';
import type { Notification, RawRecord } from '../../../processors/types';
import { schemaByName } from '../../../schemas/index';
import { messageNotification, RECENT_TIME, rawRecord } from '../../helpers/raw-notifications';
import { closeTestStores, openTestStore } from '../../helpers/state-store';

const topics = loadTopicsConfig({});
const ids = new Map(
  Object.values({ a: topics.emailMessages, b: topics.unmodeled, c: topics.emailFolders }).map((t, i) => [
    t,
    i + 1,
  ]),
);

/** The rounds' clock: a few minutes after the notifications' times (RECENT_TIME + the test's own
 * seconds), inside the acceptance window (processors/stages/window.ts). */
const NOW = (RECENT_TIME + 300) * 1000;
const WINDOW = 3_600_000;

function pipeline(expand: PipelineDeps['expand'], over: Partial<PipelineDeps> = {}) {
  return new Pipeline({
    topics,
    dedupeWindowMs: WINDOW,
    deferAfterMs: 30,
    normalize,
    encoder: new DomainEventEncoder(ids),
    expand,
    ...over,
  });
}

let offset = 0;
function rec(grantId: string, spec: Parameters<typeof messageNotification>[1]): RawRecord {
  const time = spec.time === undefined ? undefined : RECENT_TIME + spec.time;
  return rawRecord({ grantId, offset: offset++, body: messageNotification(grantId, { ...spec, time }) });
}

function decodeValue(buf: Buffer): Record<string, unknown> {
  return schemaByName('messages').type.fromBuffer(buf.subarray(5)) as Record<string, unknown>;
}

const never: PipelineDeps['expand'] = () => new Promise<ExpandOutcome>(() => undefined);

afterAll(closeTestStores);

describe('pipeline round', () => {
  it('emits, drops duplicates, suppresses stale, dead-letters malformed; remembers only what was handled', async () => {
    const p = pipeline(never);
    const store = await openTestStore(0);
    const records = [
      rec('g', { id: 'n1', messageId: 'm', action: 'updated', time: 200 }),
      rec('g', { id: 'n1', messageId: 'm', action: 'updated', time: 200, attempt: 2 }),
      rec('g', { id: 'n2', messageId: 'm', action: 'created', time: 100 }),
      rawRecord({ grantId: 'g', offset: offset++, body: '{' }),
    ];
    const r = await p.run(records, store, NOW, new ExpansionCache());
    // Same batch: sorted by version, so the create comes out first, then the update.
    expect(r.domain.map((d) => decodeValue(d.message.value as Buffer).event_type)).toEqual([
      'message.created',
      'message.updated',
    ]);
    expect(r.deadLetters.map((d) => d.reason)).toEqual(['MALFORMED_JSON']);
    expect(r.outcomes.map((o) => o.outcome).sort()).toEqual([
      'dead_lettered',
      'duplicate',
      'emitted',
      'emitted',
    ]);
    expect(r.stateChanges).toEqual([
      { kind: 'dedupe', id: 'n2', expiresAt: NOW + WINDOW },
      { kind: 'dedupe', id: 'n1', expiresAt: NOW + WINDOW },
      {
        kind: 'version',
        key: { grantId: 'g', objectType: 'message', objectId: 'm' },
        entry: { version: BigInt((RECENT_TIME + 200) * 1000), offset: records[0]?.offset, deleted: false },
        expiresAt: NOW + WINDOW,
      },
    ]);
    expect(r.deferred).toEqual([]);
  });

  it('expands a truncated message; a 404 becomes a delete; a 401 is dead-lettered and not remembered', async () => {
    const outcomes: Record<string, ExpandOutcome> = {
      full: { kind: 'expanded', object: { id: 'full', grant_id: 'g', body: '<b>big</b>' } },
      gone: { kind: 'gone' },
      denied: {
        kind: 'failed',
        reason: 'NYLAS_API_UNAUTHORIZED',
        code: 'NYLAS_API_UNAUTHORIZED',
        message: '401',
      },
    };
    const p = pipeline(async (n: Notification) => outcomes[n.object.objectId] as ExpandOutcome);
    const r = await p.run(
      [
        rec('g', { id: 'a', messageId: 'full', truncated: true }),
        rec('g', { id: 'b', messageId: 'gone', truncated: true }),
        rec('g', { id: 'c', messageId: 'denied', truncated: true }),
      ],
      await openTestStore(0),
      NOW,
      new ExpansionCache(),
    );
    const values = r.domain.map((d) => decodeValue(d.message.value as Buffer));
    expect(values.map((v) => [v.object_id, v.event_type, v.expanded])).toEqual([
      ['full', 'message.created', true],
      ['gone', 'message.deleted', false],
    ]);
    expect(r.deadLetters).toMatchObject([
      { reason: 'NYLAS_API_UNAUTHORIZED', stage: 'expand', redrivable: true },
    ]);
    const dedupeIds = r.stateChanges
      .filter((c) => c.kind === 'dedupe')
      .map((c) => (c.kind === 'dedupe' ? c.id : ''));
    expect(dedupeIds.sort()).toEqual(['a', 'b']);
    const gone = r.stateChanges.find((c) => c.kind === 'version' && c.key.objectId === 'gone');
    expect(gone).toMatchObject({ entry: { deleted: true } });
    expect(r.outcomes.filter((o) => o.outcome === 'expanded')).toHaveLength(1);
  });

  it('sets aside the object whose expansion is still pending and lets everything else through, its own grant included', async () => {
    const p = pipeline(async (n) => {
      if (n.grantId === 'slow') return new Promise<ExpandOutcome>(() => undefined);
      return { kind: 'expanded', object: { id: n.object.objectId } };
    });
    const records = [
      rec('slow', { id: 's1', messageId: 'x', truncated: true }),
      rec('fast', { id: 'f1', messageId: 'y', truncated: true }),
      rec('slow', { id: 's2', messageId: 'z' }),
      rec('slow', { id: 's3', messageId: 'x', action: 'updated', time: 200 }),
      rec('fast', { id: 'f2', messageId: 'w' }),
    ];
    const cache = new ExpansionCache();
    const store = await openTestStore(0);
    const r = await p.run(records, store, NOW, cache);
    expect(r.domain.map((d) => String(d.message.headers?.['nylas-notification-id']))).toEqual([
      'f1',
      's2',
      'f2',
    ]);
    // Message x waits, and so does its later update: an object's order is kept.
    expect(r.deferred.map((x) => x.record.offset)).toEqual([records[0]?.offset, records[3]?.offset]);
    expect(new Set(r.deferred.map((x) => x.lane)).size).toBe(1);
    expect(r.handledOffsets).toEqual([records[1]?.offset, records[2]?.offset, records[4]?.offset]);
    expect(cache.settled(records[0]?.offset as string)).toBe(false);
    expect(r.stateChanges.some((c) => c.kind === 'dedupe' && (c.id === 's1' || c.id === 's3'))).toBe(false);
  });

  it('sets aside, untouched, the new notifications of a lane still waiting from an earlier round', async () => {
    const p = pipeline(async (n) => ({ kind: 'expanded', object: { id: n.object.objectId } }));
    const cache = new ExpansionCache();
    const store = await openTestStore(0);
    const waiting = rec('g', { id: 'w1', messageId: 'x', truncated: true });
    const first = await pipeline(never).run([waiting], store, NOW, cache);
    const lane = first.deferred[0]?.lane as string;
    const records = [
      rec('g', { id: 'w2', messageId: 'x', action: 'updated', time: 200 }),
      rec('g', { id: 'o1', messageId: 'other' }),
    ];
    const r = await p.run(records, store, NOW, cache, new Set([lane]));
    expect(r.domain.map((d) => String(d.message.headers?.['nylas-notification-id']))).toEqual(['o1']);
    expect(r.deferred).toEqual([{ lane, record: records[0] }]);
    expect(r.outcomes.map((o) => o.outcome)).toEqual(['emitted']);
  });

  it('reuses an expansion started in an earlier round', async () => {
    let calls = 0;
    const p = pipeline(async (n) => {
      calls++;
      return { kind: 'expanded', object: { id: n.object.objectId } };
    });
    const cache = new ExpansionCache();
    const records = [rec('g', { id: 'r1', messageId: 'x', truncated: true })];
    await p.run(records, await openTestStore(0), NOW, cache);
    await p.run(records, await openTestStore(0), NOW, cache);
    expect(calls).toBe(1);
  });

  it('fails the round (to be retried) only on an error that says a retry can succeed', async () => {
    const p = pipeline(never, {
      normalize: () => {
        throw new TransientError('KAFKA_UNAVAILABLE', 'transient');
      },
    });
    await expect(
      p.run([rec('g', { id: 'q', messageId: 'q' })], await openTestStore(0), NOW, new ExpansionCache()),
    ).rejects.toThrow('transient');
  });

  it('dead-letters a payload normalize rejects (BadInputError) as NORMALIZE_FAILED', async () => {
    const p = pipeline(never);
    const body = messageNotification('g', { id: 'no-obj', messageId: 'm' });
    (body.data as Record<string, unknown>).object = null;
    const r = await p.run(
      [rawRecord({ grantId: 'g', offset: offset++, body })],
      await openTestStore(0),
      NOW,
      new ExpansionCache(),
    );
    expect(r.deadLetters).toMatchObject([
      { reason: 'NORMALIZE_FAILED', stage: 'normalize', redrivable: true },
    ]);
  });
});
