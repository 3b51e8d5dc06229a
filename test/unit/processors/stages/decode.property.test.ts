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
import { decode } from '../../../../processors/stages/decode';
import type { RawRecord } from '../../../../processors/types';

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
