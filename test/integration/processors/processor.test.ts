/**
 * The processor end to end against the real broker, the real registry and the simulator's Nylas API:
 * every guarantee of docs/architecture.md "Processors" that one instance can show. Domain events are read
 * read_committed and decoded independently of our encoder (writer schema fetched by id, avsc).
 *
 * "Nothing else was emitted" is proven with a barrier instead of a sleep: after the records under test,
 * a folder notification of the same grant is produced; the same grant means the same partition and lane,
 * so once the barrier's event is committed, everything before it was handled.
 */
import { gzipSync } from 'node:zlib';
import { createLogger } from '../../../lib/logger';
import type { RunningProcessor } from '../../../processors/index';
import { headerString, pollUntil, type TopicCollector, uniqueName } from '../../helpers/kafka';
import { captureLog } from '../../helpers/log-capture';
import { byNotification, decodeDomainEvent, ProcessorHarness } from '../../helpers/processor-harness';
import {
  envelope,
  eventObject,
  messageNotification,
  messageObject,
  RECENT_TIME,
  rawMessage,
} from '../../helpers/raw-notifications';

describe('processor (real broker, registry, simulator API)', () => {
  const h = new ProcessorHarness({ partitions: 2, grants: 3 });
  let proc: RunningProcessor;
  let messages: TopicCollector;
  let folders: TopicCollector;
  let calendarEvents: TopicCollector;
  let unmodeled: TopicCollector;
  let dlq: TopicCollector;
  const warnings = captureLog();

  beforeAll(async () => {
    await h.setUp();
    // Started as the CLI starts it (with the environment it was configured from), plus a misspelt
    // variable of its own and one set by Kubernetes for a Service named "kafka".
    const env = { ...h.env, PROCESSOR_MAX_QUEUED_RECORD: '5', KAFKA_SERVICE_HOST: '10.0.0.1' };
    proc = await h.startProcessor(
      {},
      { env, logger: createLogger({ name: 'processor', level: 'warn', destination: warnings.stream }) },
    );
    const t = h.topics;
    [messages, folders, calendarEvents, unmodeled, dlq] = await Promise.all([
      h.collect([t.emailMessages]),
      h.collect([t.emailFolders]),
      h.collect([t.calendarEvents]),
      h.collect([t.unmodeled]),
      h.collect([t.dlq]),
    ]);
  });

  afterAll(async () => {
    await h.tearDown();
  });

  async function barrier(grantId: string): Promise<void> {
    const id = uniqueName('barrier');
    await h.produce([
      rawMessage({
        grantId,
        body: envelope({
          type: 'folder.updated',
          id,
          object: { id: `f-${id}`, grant_id: grantId, name: 'x', object: 'folder' },
        }),
      }),
    ]);
    await pollUntil(() => byNotification(folders.records, id).length === 1, { description: `barrier ${id}` });
  }

  async function eventsOf(c: TopicCollector, grantId: string) {
    const mine = c.records.filter((r) => r.key?.toString() === grantId);
    return Promise.all(mine.map(decodeDomainEvent));
  }

  async function outcomeCount(family: string, outcome: string): Promise<number> {
    const m = await proc.metrics.notifications.get();
    return m.values.find((v) => v.labels.family === family && v.labels.outcome === outcome)?.value ?? 0;
  }

  it('warns at start-up about an unknown variable under its prefixes, naming the closest one, and starts', async () => {
    const unknown = warnings.lines().filter((l) => String(l.msg).startsWith('unknown variable'));
    expect(unknown.map((l) => [l.variable, l.didYouMean])).toEqual([
      ['PROCESSOR_MAX_QUEUED_RECORD', 'PROCESSOR_MAX_QUEUED_RECORDS'],
    ]);
    await pollUntil(() => proc.processor.ready, { description: 'the processor ready despite the warning' });
  });

  it('emits one event for a notification delivered several times (same id, different attempt), also across transactions', async () => {
    const g = uniqueName('g-dup');
    const id = uniqueName('n');
    // An update: a tie in version is emitted (later arrival wins), so only dedupe can stop a redelivery.
    const attempt = (n: number) =>
      rawMessage({
        grantId: g,
        body: messageNotification(g, { id, messageId: 'm1', action: 'updated', attempt: n }),
      });
    await h.produce([attempt(1), attempt(2)]);
    await pollUntil(() => byNotification(messages.records, id).length === 1, { description: 'first event' });
    await h.produce([
      rawMessage({
        grantId: g,
        gzip: true,
        body: messageNotification(g, { id, messageId: 'm1', action: 'updated', attempt: 3 }),
      }),
    ]);
    await barrier(g);
    const events = await eventsOf(messages, g);
    expect(events).toHaveLength(1);
    expect(events[0]?.record.value).toBeConfluentAvro(events[0]?.schemaId);
    expect(events[0]?.value).toMatchObject({
      nylas_notification_id: id,
      event_type: 'message.updated',
      grant_id: g,
      object_id: 'm1',
      expanded: false,
    });
    expect(await outcomeCount('message', 'duplicate')).toBeGreaterThanOrEqual(2);
  });

  it('emits an .updated that arrives before its .created as the newest state, and suppresses the late .created', async () => {
    const g = uniqueName('g-upd');
    const upd = uniqueName('n-upd');
    const crt = uniqueName('n-crt');
    const staleBefore = await outcomeCount('message', 'stale');
    await h.produce([
      rawMessage({
        grantId: g,
        body: messageNotification(g, {
          id: upd,
          messageId: 'm',
          action: 'updated',
          time: RECENT_TIME + 2000,
        }),
      }),
    ]);
    await pollUntil(() => byNotification(messages.records, upd).length === 1);
    await h.produce([
      rawMessage({
        grantId: g,
        body: messageNotification(g, {
          id: crt,
          messageId: 'm',
          action: 'created',
          time: RECENT_TIME + 1000,
        }),
      }),
    ]);
    await barrier(g);
    const events = await eventsOf(messages, g);
    expect(events.map((e) => e.value.event_type)).toEqual(['message.updated']);
    expect(events[0]?.value.object_version).toBe((RECENT_TIME + 2000) * 1000);
    expect(await outcomeCount('message', 'stale')).toBe(staleBefore + 1);
  });

  it('suppresses a stale update after a newer one', async () => {
    const g = uniqueName('g-stale');
    const newer = uniqueName('n');
    const older = uniqueName('n');
    await h.produce([
      rawMessage({
        grantId: g,
        body: messageNotification(g, {
          id: newer,
          messageId: 'm',
          action: 'updated',
          time: RECENT_TIME + 3000,
        }),
      }),
    ]);
    await pollUntil(() => byNotification(messages.records, newer).length === 1);
    await h.produce([
      rawMessage({
        grantId: g,
        body: messageNotification(g, {
          id: older,
          messageId: 'm',
          action: 'updated',
          time: RECENT_TIME + 2000,
        }),
      }),
    ]);
    await barrier(g);
    expect((await eventsOf(messages, g)).map((e) => e.value.nylas_notification_id)).toEqual([newer]);
  });

  it('keeps a delete final against a later stale update', async () => {
    const g = uniqueName('g-del');
    const del = uniqueName('n-del');
    await h.produce([
      rawMessage({
        grantId: g,
        body: messageNotification(g, { id: uniqueName('n'), messageId: 'm', time: RECENT_TIME + 1000 }),
      }),
      rawMessage({
        grantId: g,
        body: messageNotification(g, {
          id: del,
          messageId: 'm',
          action: 'deleted',
          time: RECENT_TIME + 2000,
        }),
      }),
    ]);
    await pollUntil(() => byNotification(messages.records, del).length === 1);
    await h.produce([
      rawMessage({
        grantId: g,
        body: messageNotification(g, {
          id: uniqueName('n'),
          messageId: 'm',
          action: 'updated',
          time: RECENT_TIME + 1500,
        }),
      }),
    ]);
    await barrier(g);
    expect((await eventsOf(messages, g)).map((e) => e.value.event_type)).toEqual([
      'message.created',
      'message.deleted',
    ]);
  });

  it('orders events with an equal envelope time by updated_at', async () => {
    const g = uniqueName('g-ev');
    const ev = (id: string, updatedAt: number) =>
      rawMessage({
        grantId: g,
        body: envelope({
          type: 'event.updated',
          id,
          time: RECENT_TIME,
          source: '/google/events/realtime',
          object: eventObject(g, 'e1', { updated_at: updatedAt }),
        }),
      });
    const first = uniqueName('n');
    const older = uniqueName('n');
    const newest = uniqueName('n');
    await h.produce([ev(first, 1_723_821_900)]);
    await pollUntil(() => byNotification(calendarEvents.records, first).length === 1);
    await h.produce([ev(older, 1_723_821_800), ev(newest, 1_723_821_950)]);
    await pollUntil(() => byNotification(calendarEvents.records, newest).length === 1);
    await barrier(g);
    const events = await eventsOf(calendarEvents, g);
    expect(events.map((e) => e.value.nylas_notification_id)).toEqual([first, newest]);
    expect(events.map((e) => e.value.object_version)).toEqual([1_723_821_900_000, 1_723_821_950_000]);
  });

  it('expands a truncated message with its full body from the Nylas API', async () => {
    const g = h.world.grantIds[0] as string;
    const mid = uniqueName('m');
    h.world.upsertObject(g, 'messages', messageObject(g, mid, { body: '<p>the whole, very long body</p>' }));
    const id = uniqueName('n');
    await h.produce([
      rawMessage({ grantId: g, body: messageNotification(g, { id, messageId: mid, truncated: true }) }),
    ]);
    await pollUntil(() => byNotification(messages.records, id).length === 1);
    const [e] = await Promise.all(byNotification(messages.records, id).map(decodeDomainEvent));
    expect(e?.value).toMatchObject({ expanded: true, event_type: 'message.created', object_id: mid });
    expect((e?.value.message as { body?: string } | undefined)?.body).toBe(
      '<p>the whole, very long body</p>',
    );
    expect(await outcomeCount('message', 'expanded')).toBeGreaterThanOrEqual(1);
  });

  it('honours a 429 with Retry-After and then expands', async () => {
    const g = h.world.grantIds[1] as string;
    const mid = uniqueName('m');
    h.world.upsertObject(g, 'messages', messageObject(g, mid, { body: '<p>after the rate limit</p>' }));
    h.api.faults.enqueue({ match: { pathIncludes: mid }, status: 429, retryAfterSeconds: 1 });
    const id = uniqueName('n');
    await h.produce([
      rawMessage({ grantId: g, body: messageNotification(g, { id, messageId: mid, truncated: true }) }),
    ]);
    await pollUntil(() => byNotification(messages.records, id).length === 1);
    const calls = h.api.requests.filter((r) => r.path.includes(mid));
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
    const [e] = await Promise.all(byNotification(messages.records, id).map(decodeDomainEvent));
    expect((e?.value.message as { body?: string } | undefined)?.body).toBe('<p>after the rate limit</p>');
  });

  it('emits a truncated message the API no longer has (404) as deleted', async () => {
    const g = h.world.grantIds[0] as string;
    const id = uniqueName('n');
    await h.produce([
      rawMessage({
        grantId: g,
        body: messageNotification(g, { id, messageId: uniqueName('gone'), truncated: true }),
      }),
    ]);
    await pollUntil(() => byNotification(messages.records, id).length === 1);
    const [e] = await Promise.all(byNotification(messages.records, id).map(decodeDomainEvent));
    expect(e?.value.event_type).toBe('message.deleted');
  });

  it('dead-letters a truncated message of an invalid grant (401) as re-drivable, with the original bytes', async () => {
    const g = h.world.grantIds[2] as string;
    const mid = uniqueName('m');
    h.world.upsertObject(g, 'messages', messageObject(g, mid));
    h.world.setGrantStatus(g, 'invalid');
    const id = uniqueName('n');
    const msg = rawMessage({
      grantId: g,
      body: messageNotification(g, { id, messageId: mid, truncated: true }),
    });
    // Bytes that are not UTF-8: the processor keeps header values as text only where they are.
    const opaque = Buffer.from([0xc3, 0x28, 0xff, 0x00]);
    msg.headers = { ...msg.headers, 'x-opaque': opaque };
    await h.produce([msg]);
    await pollUntil(() => byNotification(dlq.records, id).length === 1);
    const [d] = byNotification(dlq.records, id);
    expect(d?.value?.equals(msg.value as Buffer)).toBe(true);
    expect(d?.headers?.['x-opaque']).toEqual(opaque);
    expect(d?.key?.toString()).toBe(g);
    const header = (name: string) => headerString(d?.headers ?? {}, name);
    expect(header('dlq-reason')).toBe('NYLAS_API_UNAUTHORIZED');
    expect(header('dlq-error-code')).toBe('NYLAS_API_UNAUTHORIZED');
    expect(header('dlq-stage')).toBe('expand');
    expect(header('dlq-redrivable')).toBe('true');
    expect(header('dlq-source-topic')).toBe(h.topics.raw);
    expect(header('dlq-source-partition')).toMatch(/^[01]$/);
    expect(header('dlq-source-offset')).toMatch(/^\d+$/);
    expect(header('nylas-signature')).toBe('a'.repeat(64));
    expect(byNotification(messages.records, id)).toHaveLength(0);
  });

  it('carries an unknown trigger to nylas.unmodeled', async () => {
    const g = uniqueName('g-unk');
    const id = uniqueName('n');
    await h.produce([
      rawMessage({
        grantId: g,
        body: envelope({
          type: 'notetaker.media',
          id,
          source: '/nylas/notetaker',
          object: { id: 'nt-1', grant_id: g, state: 'ready' },
        }),
      }),
    ]);
    await pollUntil(() => byNotification(unmodeled.records, id).length === 1);
    const [e] = await Promise.all(byNotification(unmodeled.records, id).map(decodeDomainEvent));
    expect(e?.value).toMatchObject({ nylas_type: 'notetaker.media', object_id: 'nt-1' });
    expect(JSON.parse(e?.value.object_json as string)).toMatchObject({ state: 'ready' });
  });

  it('dead-letters malformed records (not JSON, corrupt gzip, bad envelope) with the reason', async () => {
    const g = uniqueName('g-bad');
    await h.produce([
      rawMessage({ grantId: g, body: '{"id": "x", ', extraHeaders: { 'nylas-notification-id': 'bad-json' } }),
      {
        ...rawMessage({ grantId: g, body: gzipSync(Buffer.from('{}')).subarray(0, 8) }),
        headers: { 'content-encoding': 'gzip', 'nylas-notification-id': 'bad-gzip' },
      },
      rawMessage({ grantId: g, body: { id: 'bad-envelope', type: 'message.created' } }),
    ]);
    await pollUntil(() => dlq.records.filter((r) => r.key?.toString() === g).length === 3);
    const mine = dlq.records.filter((r) => r.key?.toString() === g);
    expect(mine.map((r) => headerString(r.headers, 'dlq-reason'))).toEqual([
      'MALFORMED_JSON',
      'DECOMPRESS_FAILED',
      'MALFORMED_ENVELOPE',
    ]);
    expect(mine.every((r) => headerString(r.headers, 'dlq-redrivable') === 'false')).toBe(true);
    expect(mine[0]?.value?.toString()).toBe('{"id": "x", ');
    const m = await proc.metrics.deadLetters.get();
    expect(m.values.find((v) => v.labels.reason === 'MALFORMED_JSON')?.value).toBeGreaterThanOrEqual(1);
  });

  it('writes the state changelog with per-partition keys and reports state entries', async () => {
    const g = uniqueName('g-state');
    const id = uniqueName('n');
    await h.produce([rawMessage({ grantId: g, body: messageNotification(g, { id, messageId: 'm' }) })]);
    const state = await h.collect([h.topics.state]);
    await pollUntil(() =>
      state.records.some(
        (r) => r.value !== null && (JSON.parse(r.value.toString()) as { d?: string[] }).d?.includes(id),
      ),
    );
    const keys = state.records.map((r) => JSON.parse(r.key?.toString() ?? '[]') as unknown[]);
    expect(keys.every((k) => typeof k[0] === 'number' && ['b', 'p'].includes(k[1] as string))).toBe(true);
    const bucket = state.records
      .filter((r) => r.value !== null && r.key?.toString().includes('"b"'))
      .map((r) => JSON.parse(r.value?.toString() ?? '{}') as { e: number; d: string[]; v: unknown[][] })
      .find((b) => b.d.includes(id));
    expect(bucket?.e).toBeGreaterThan(Date.now());
    expect(bucket?.v).toContainEqual([g, 'message', 'm', expect.any(String), expect.any(String), 0]);
    const entries = await proc.metrics.stateEntries.get();
    expect(entries.values.find((v) => v.labels.kind === 'dedupe')?.value).toBeGreaterThan(0);
    const tx = await proc.metrics.transactions.get();
    expect(tx.values.find((v) => v.labels.outcome === 'committed')?.value).toBeGreaterThan(0);
  });

  // Last: it replaces the consumer the other cases use. rejoin-watchdog.ts explains why a consumer is
  // replaced; here the replacement itself runs against the broker, as the watchdog would start it.
  it('replaces a consumer that did not rejoin after a crash and goes on exactly once', async () => {
    const g = uniqueName('g-replace');
    const before = uniqueName('n-before');
    const after = uniqueName('n-after');
    await h.produce([
      rawMessage({ grantId: g, body: messageNotification(g, { id: before, messageId: 'm1' }) }),
    ]);
    await pollUntil(() => byNotification(messages.records, before).length === 1, {
      description: 'first event',
    });

    await proc.processor.replaceConsumer();
    expect((await proc.metrics.consumerReplacements.get()).values[0]?.value).toBe(1);

    await h.produce([
      rawMessage({ grantId: g, body: messageNotification(g, { id: after, messageId: 'm2' }) }),
    ]);
    await barrier(g);
    const events = await eventsOf(messages, g);
    expect(events.map((e) => e.value.nylas_notification_id)).toEqual([before, after]);
    await pollUntil(() => proc.processor.ready, { description: 'every partition taken over again' });
    expect(proc.processor.assignedPartitions).toEqual([0, 1]);
  });
});
