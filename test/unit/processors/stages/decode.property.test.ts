/**
 * Properties of the processor's decode stage (processors/stages/decode.ts) over generated records: it
 * never throws (a poison record must become a dead letter, not a stuck partition); the only dead-letter
 * reasons are the three decode reasons; every envelope with the required fields decodes, whatever else it
 * carries, with the documented grant-id precedence and a non-negative version that is a safe integer for
 * ordinary times; gzip (by header or by magic bytes) decodes like plain JSON.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { IHeaders } from 'kafkajs';
import { loadTopicsConfig } from '../../../../lib/config';
import { ExpansionCache } from '../../../../processors/deferral/index';
import { Pipeline } from '../../../../processors/pipeline';
import { decode } from '../../../../processors/stages/decode';
import type { ExpandOutcome } from '../../../../processors/stages/expand';
import { normalize } from '../../../../processors/stages/normalize';
import { DomainEventEncoder, recordBatchBytes } from '../../../../processors/stages/publish';
import { MAX_STATE_ID_CHARS } from '../../../../processors/state/keys';
import { DEAD_LETTER_REASONS, type RawRecord } from '../../../../processors/types';
import { DOMAIN_SCHEMA_NAMES, DOMAIN_SCHEMA_TOPICS } from '../../../../schemas/index';
import { stateIdsOf } from '../../../helpers/state-ids';
import { closeTestStores, openTestStore } from '../../../helpers/state-store';

const RUNS = { numRuns: 300 };
const DECODE_REASONS = ['DECOMPRESS_FAILED', 'MALFORMED_JSON', 'MALFORMED_ENVELOPE'];

function record(value: Buffer | null, headers: IHeaders = {}): RawRecord {
  return {
    topic: 'nylas.webhooks.raw',
    partition: 0,
    offset: '42',
    key: null,
    value,
    headers,
    timestamp: '1723821986000',
  };
}

const headerValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('gzip', 'x-gzip', 'identity', 'br', ''),
  fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
);
const headers = fc.dictionary(
  fc.constantFrom('content-encoding', 'received-at', 'nylas-type', 'x-other'),
  headerValue,
  { maxKeys: 3 },
);

const nonEmpty = fc.string({ minLength: 1, maxLength: 16 });
const TRIGGERS = [
  'message.created',
  'message.updated.truncated',
  'message.created.cleaned.transformed',
  'message.opened',
  'message.opened.legacy',
  'message.link_clicked',
  'thread.replied',
  'message.send_success',
  'message.bounce_detected',
  'event.updated',
  'event.deleted',
  'calendar.created',
  'contact.deleted',
  'folder.updated',
  'grant.expired',
  'notetaker.media',
  'booking.created',
  'some.future.trigger',
];

/** A valid envelope (the fields decode requires) with arbitrary optional parts around it. */
const envelopeArb = fc.record({
  type: fc.oneof(fc.constantFrom(...TRIGGERS), nonEmpty),
  id: nonEmpty,
  source: nonEmpty,
  time: fc.oneof(
    fc.integer({ min: 0, max: 4_102_444_800 }),
    fc.integer({ min: 0, max: 4_102_444_800 }).map(String),
    fc
      .date({ min: new Date(0), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true })
      .map((d) => d.toISOString()),
  ),
  applicationId: nonEmpty,
  dataGrant: fc.option(fc.oneof(nonEmpty, fc.constant(''), fc.integer()), { nil: undefined }),
  object: fc.option(
    fc.record(
      {
        id: fc.oneof(nonEmpty, fc.integer(), fc.constant(null)),
        grant_id: fc.oneof(nonEmpty, fc.constant(''), fc.integer()),
        updated_at: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800 }), fc.string({ maxLength: 5 })),
        sequence: fc.integer({ min: -5, max: 5000 }),
        message_data: fc.record({ count: fc.oneof(fc.nat(), fc.double()) }),
        extra: fc.jsonValue({ maxDepth: 2 }),
      },
      { requiredKeys: [] },
    ),
    { nil: null },
  ),
  extraTop: fc.dictionary(
    fc.constantFrom('webhook_delivery_attempt', 'datacontenttype', 'x'),
    fc.jsonValue({ maxDepth: 1 }),
  ),
});

type EnvelopeSpec = typeof envelopeArb extends fc.Arbitrary<infer T> ? T : never;

function build(e: EnvelopeSpec): Record<string, unknown> {
  const data: Record<string, unknown> = { application_id: e.applicationId, object: e.object };
  if (e.dataGrant !== undefined) data.grant_id = e.dataGrant;
  return { ...e.extraTop, specversion: '1.0', type: e.type, source: e.source, id: e.id, time: e.time, data };
}

describe('decode (property-based)', () => {
  it('never throws: any bytes and headers become a notification or a decode dead letter', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
          fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? '')),
          fc.jsonValue({ maxDepth: 3 }).map((v) => gzipSync(Buffer.from(JSON.stringify(v) ?? ''))),
          fc.constant(null),
        ),
        headers,
        (value, h) => {
          const r = decode(record(value, h));
          if (!r.ok) {
            expect(DECODE_REASONS).toContain(r.deadLetter.reason);
            expect(r.deadLetter.stage).toBe('decode');
            expect(r.deadLetter.record.value).toBe(value);
          }
        },
      ),
      RUNS,
    );
  });

  it('decodes every envelope with the required fields, with the documented grant id and a sane version', () => {
    fc.assert(
      fc.property(envelopeArb, (e) => {
        const env = build(e);
        const r = decode(record(Buffer.from(JSON.stringify(env))));
        if (!r.ok) throw new Error(`dead-lettered ${r.deadLetter.reason}: ${r.deadLetter.message}`);
        const n = r.notification;
        const objectGrant = e.object?.grant_id;
        const expectedGrant =
          typeof objectGrant === 'string' && objectGrant !== ''
            ? objectGrant
            : typeof e.dataGrant === 'string' && e.dataGrant !== ''
              ? e.dataGrant
              : e.applicationId;
        expect(n.grantId).toBe(expectedGrant);
        expect(n.object.grantId).toBe(expectedGrant);
        expect(n.applicationId).toBe(e.applicationId);
        expect(n.envelope.id).toBe(e.id);
        expect(typeof n.envelope.time).toBe('number');
        expect(n.version >= 0n).toBe(true);
        // Times up to 2100 and event clocks stay far below 2^53 (normalize publishes it as an Avro long).
        expect(n.version <= BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
        expect(n.baseType.length).toBeGreaterThan(0);
      }),
      RUNS,
    );
  });

  it('decodes gzip bodies — by header or by magic bytes alone — exactly like the plain JSON', () => {
    fc.assert(
      fc.property(envelopeArb, fc.constantFrom('gzip', 'x-gzip', undefined), (e, encoding) => {
        const json = Buffer.from(JSON.stringify(build(e)));
        const plain = decode(record(json));
        const zipped = decode(
          record(gzipSync(json), encoding === undefined ? {} : { 'content-encoding': Buffer.from(encoding) }),
        );
        expect(plain.ok && zipped.ok).toBe(true);
        if (plain.ok && zipped.ok) {
          expect(zipped.notification.envelope).toEqual(plain.notification.envelope);
          expect(zipped.notification.object).toEqual(plain.notification.object);
          expect(zipped.notification.version).toBe(plain.notification.version);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('dead-letters an envelope missing any required field as MALFORMED_ENVELOPE', () => {
    fc.assert(
      fc.property(
        envelopeArb,
        fc.constantFrom('specversion', 'type', 'source', 'id', 'time', 'data', 'data.application_id'),
        fc.constantFrom(undefined, '', 0, null, [], {}),
        (e, field, replacement) => {
          const env = build(e);
          if (field === 'data.application_id')
            (env.data as Record<string, unknown>).application_id = replacement;
          else env[field] = replacement;
          // Some replacements are valid for some fields (time 0; data {} still lacks application_id).
          if (field === 'time' && replacement === 0) return;
          const r = decode(record(Buffer.from(JSON.stringify(env))));
          expect(r.ok ? 'ok' : r.deadLetter.reason).toBe('MALFORMED_ENVELOPE');
        },
      ),
      RUNS,
    );
  });
});

/**
 * The whole range, through the whole pipeline (decode → dedupe → order → expand → normalize → encode,
 * Pipeline.run with the real encoder on fixed schema ids): times as huge numbers and numeric strings,
 * bodies nested far deeper than the stages' recursion can take, ids around and far past the limits, huge
 * strings. Every record becomes an output, a duplicate or stale count, or a dead letter; the round never
 * throws; every state entry and every output stays within its bound.
 */
describe('decode through the pipeline (property-based, hostile range)', () => {
  afterAll(closeTestStores);

  const topics = { ...loadTopicsConfig({}), maxMessageBytes: 1024 * 1024 };
  const schemaIds = new Map(
    DOMAIN_SCHEMA_NAMES.map((name, i) => [String(topics[DOMAIN_SCHEMA_TOPICS[name]]), i + 1]),
  );

  const digits = (min: number, max: number) => fc.integer({ min, max }).map((n) => `1${'0'.repeat(n - 1)}`);
  const hostileTime = fc.oneof(
    fc.integer({ min: 0, max: 4_102_444_800 }).map(String), // as JSON text
    digits(12, 400), // a huge JSON number: 1e11 … 1e399 (Infinity)
    digits(1, 400).map((d) => JSON.stringify(d)), // the same as a numeric string
    fc.double({ noNaN: false }).map((d) => (Number.isFinite(d) ? String(d) : JSON.stringify(String(d)))),
    fc.constantFrom('-1', '1e308', '"2024-08-16T15:06:25Z"', '"not a time"', 'null'),
  );
  const hostileId = fc.oneof(
    fc.string({ minLength: 1, maxLength: 20 }),
    fc.integer({ min: 200, max: 300 }).map((n) => `i${'d'.repeat(n)}`), // around the state's hashing limit
    fc.integer({ min: 4000, max: 4200 }).map((n) => 'x'.repeat(n)), // around the refusal limit
    fc.constant('z'.repeat(200_000)),
  );
  const nestedText = fc.integer({ min: 0, max: 3000 }).map((d) => `${'{"a":['.repeat(d)}1${']}'.repeat(d)}`);
  const hostile = fc.record({
    type: fc.constantFrom(...TRIGGERS),
    id: hostileId,
    objectId: hostileId,
    grantId: fc.oneof(hostileId, fc.constant(undefined)),
    time: hostileTime,
    updatedAt: hostileTime,
    count: fc.oneof(fc.nat(), digits(1, 30)),
    nested: nestedText,
    big: fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.integer({ min: 0, max: 1_200_000 }).map((n) => 'b'.repeat(n)),
    ),
  });

  function hostileRecord(
    h: typeof hostile extends fc.Arbitrary<infer T> ? T : never,
    offset: number,
  ): RawRecord {
    const object = JSON.stringify({
      id: h.objectId,
      ...(h.grantId === undefined ? {} : { grant_id: h.grantId }),
      body: h.big,
      message_data: { count: 0 },
      link_data: [{ count: 0 }],
      metadata: { m: 'NESTED' },
      updated_at: 'UPDATED_AT',
    })
      .replace('"NESTED"', h.nested)
      .replace('"UPDATED_AT"', h.updatedAt)
      .replace('"count":0}', `"count":${h.count}}`);
    const body = `{"specversion":"1.0","type":${JSON.stringify(h.type)},"source":"/s","id":${JSON.stringify(h.id)},"time":${h.time},"data":{"application_id":"app","object":${object}}}`;
    return { ...record(Buffer.from(body)), offset: String(offset) };
  }

  it('every record is accounted for, nothing throws, every state entry and output is bounded', async () => {
    // One empty store for every run: a round only reads it (nothing is applied), so the runs stay independent.
    const store = await openTestStore(0);
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostile, { minLength: 1, maxLength: 4 }),
        fc.constantFrom<ExpandOutcome['kind']>('expanded', 'gone', 'failed'),
        async (specs, expandKind) => {
          const records = specs.map((s, i) => hostileRecord(s, i));
          const pipeline = new Pipeline({
            topics,
            dedupeWindowMs: 1000,
            deferAfterMs: 1000,
            normalize,
            encoder: new DomainEventEncoder(schemaIds),
            expand: async (n): Promise<ExpandOutcome> =>
              expandKind === 'expanded'
                ? { kind: 'expanded', object: { id: n.object.objectId, body: 'x'.repeat(1_500_000) } }
                : expandKind === 'gone'
                  ? { kind: 'gone' }
                  : {
                      kind: 'failed',
                      reason: 'NYLAS_API_REJECTED',
                      code: 'NYLAS_API_REJECTED',
                      message: '400',
                    },
          });
          const r = await pipeline.run(records, store, 0, new ExpansionCache());
          // One outcome per record ('expanded' and 'body_omitted' are counted besides the record's own).
          const own = r.outcomes.filter((o) => o.outcome !== 'expanded' && o.outcome !== 'body_omitted');
          expect(own).toHaveLength(records.length);
          expect(r.handledOffsets).toEqual(records.map((x) => x.offset));
          expect(r.domain.length + r.deadLetters.length).toBeLessThanOrEqual(records.length);
          for (const d of r.deadLetters) expect(DEAD_LETTER_REASONS).toContain(d.reason);
          for (const d of r.domain) {
            expect(recordBatchBytes(d.message)).toBeLessThanOrEqual(topics.maxMessageBytes);
          }
          for (const id of stateIdsOf(r.stateChanges))
            expect(id.length).toBeLessThanOrEqual(MAX_STATE_ID_CHARS);
        },
      ),
      { numRuns: 150 },
    );
  });
});
