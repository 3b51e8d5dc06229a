import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { IHeaders, Message } from 'kafkajs';
import { summarizeEnvelope } from '../../../ingress/envelope';
import { buildRawRecord } from '../../../ingress/record';
import {
  bodyEncodingOf,
  type DecodedRawRecord,
  decodeRawRecord,
  encodeRawRecord,
  headersAsText,
  type RawNotification,
  receivedAtOf,
} from '../../../lib/raw-record';
import { decode } from '../../../processors/stages/decode';
import type { RawRecord } from '../../../processors/types';
import { RECENT_TIME } from '../../helpers/raw-notifications';

/** A produced message as a consumer receives it: kafkajs hands key and header values over as Buffers. */
function consumed(m: Message, offset = 0): RawRecord {
  const headers: IHeaders = {};
  for (const [name, v] of Object.entries(m.headers ?? {})) {
    if (typeof v === 'string' || Buffer.isBuffer(v)) headers[name] = Buffer.from(v);
  }
  return {
    topic: 'nylas.webhooks.raw',
    partition: 0,
    offset: String(offset),
    key: m.key === null || m.key === undefined ? null : Buffer.from(m.key),
    value: m.value === null ? null : Buffer.from(m.value),
    headers,
    timestamp: m.timestamp ?? '0',
  };
}

// Well-formed Unicode only: header values travel as UTF-8, as ids parsed from a UTF-8 body do.
const text = fc.string({ unit: 'grapheme', maxLength: 40 });

/** What the ingress writes: identity bodies are JSON it parsed, gzip bodies are compressed JSON. */
const notification: fc.Arbitrary<RawNotification> = fc
  .record({
    json: fc.json(),
    gzip: fc.boolean(),
    signature: text,
    contentType: text,
    destination: text,
    receivedAt: fc.integer({ min: 1, max: 2 ** 47 }),
    id: fc.option(text, { nil: undefined }),
    type: fc.option(text, { nil: undefined }),
    deliveryAttempt: fc.option(fc.integer(), { nil: undefined }),
    key: fc.option(text, { nil: undefined }),
  })
  .map((f) => ({
    body: f.gzip ? gzipSync(f.json) : Buffer.from(f.json),
    signature: f.signature,
    contentType: f.contentType,
    contentEncoding: f.gzip ? 'gzip' : 'identity',
    destination: f.destination,
    receivedAt: f.receivedAt,
    envelope: { id: f.id, type: f.type, deliveryAttempt: f.deliveryAttempt, key: f.key },
  }));

function expected(n: RawNotification): DecodedRawRecord {
  return {
    key: n.envelope.key,
    body: n.body,
    signature: n.signature,
    contentType: n.contentType,
    contentEncoding: n.contentEncoding,
    notificationId: n.envelope.id,
    type: n.envelope.type,
    deliveryAttempt: n.envelope.deliveryAttempt,
    destination: n.destination,
    receivedAt: n.receivedAt,
  };
}

describe('raw record (lib/raw-record.ts)', () => {
  it('property: decode(encode(n)) is n, consumed (Buffers) or as produced (strings)', () => {
    fc.assert(
      fc.property(notification, (n) => {
        const message = encodeRawRecord(n);
        expect(decodeRawRecord(consumed(message))).toEqual(expected(n));
        expect(decodeRawRecord(message)).toEqual(expected(n));
        const queued = consumed(message);
        expect(decodeRawRecord({ ...queued, headers: headersAsText(queued.headers) })).toEqual(expected(n));
      }),
    );
  });

  /** The bytes a header value stands for, as a producer writes it (a string as its UTF-8). */
  const bytesOf = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(bytesOf) : typeof v === 'string' ? Buffer.from(v, 'utf8') : v;

  it('property: headersAsText keeps every header and its bytes; only UTF-8 values become text', () => {
    const value = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }).map((t) => Buffer.from(t, 'utf8')),
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    );
    const headerValue = fc.oneof(value, fc.array(value, { minLength: 1, maxLength: 3 }));
    const name = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('__proto__', 'constructor', 'toString'),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(name, headerValue), { maxLength: 8 }), (pairs) => {
        // As kafkajs builds them: own properties, whatever the name.
        const headers: IHeaders = {};
        for (const [k, v] of pairs)
          Object.defineProperty(headers, k, {
            value: v,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        const text = headersAsText(headers);
        expect(Object.getPrototypeOf(text)).toBe(Object.prototype);
        expect(Object.keys(text)).toEqual(Object.keys(headers));
        for (const k of Object.keys(headers)) {
          const before = headers[k];
          const after = text[k];
          expect(bytesOf(after)).toEqual(before);
          for (const [b, a] of Array.isArray(before)
            ? before.map((x, i) => [x, (after as unknown[])[i]])
            : [[before, after]]) {
            expect(typeof a === 'string').toBe(
              Buffer.isBuffer(b) && Buffer.from((b as Buffer).toString('utf8'), 'utf8').equals(b as Buffer),
            );
          }
        }
      }),
    );
  });

  const grantField = fc.oneof(
    fc.string({ minLength: 1, maxLength: 20 }),
    fc.constant(''),
    fc.integer(),
    fc.constant(null),
  );
  const envelope = fc
    .record(
      {
        type: fc.constantFrom(
          'message.created',
          'message.updated.truncated',
          'message.opened',
          'message.send_success',
          'event.updated',
          'grant.expired',
          'folder.deleted',
          'notetaker.media',
        ),
        id: fc.string({ minLength: 1, maxLength: 20 }),
        app: fc.string({ minLength: 1, maxLength: 20 }),
        dataGrant: grantField,
        object: fc.oneof(
          fc.constant(null),
          fc.record(
            { id: fc.string({ minLength: 1, maxLength: 20 }), grant_id: grantField },
            { requiredKeys: ['id'] },
          ),
        ),
      },
      { requiredKeys: ['type', 'id', 'app', 'object'] },
    )
    .map((e) => ({
      specversion: '1.0',
      type: e.type,
      source: '/google/emails/realtime',
      id: e.id,
      time: RECENT_TIME,
      webhook_delivery_attempt: 1,
      data: {
        application_id: e.app,
        ...('dataGrant' in e ? { grant_id: e.dataGrant } : {}),
        object: e.object,
      },
    }));

  it('property: the key the ingress writes is the grant id the processor derives (co-partitioning)', () => {
    fc.assert(
      fc.property(envelope, fc.boolean(), (env, gzip) => {
        const json = Buffer.from(JSON.stringify(env));
        const message = buildRawRecord({
          body: gzip ? gzipSync(json) : json,
          signature: 'a'.repeat(64),
          contentType: 'application/json',
          contentEncoding: gzip ? 'gzip' : 'identity',
          destination: 'default',
          receivedAt: Date.now(),
          envelope: summarizeEnvelope(json),
        });
        const d = decode(consumed(message));
        if (!d.ok) throw new Error(`decode dead-lettered a valid envelope: ${d.deadLetter.message}`);
        expect(message.key).toBe(d.notification.grantId);
      }),
    );
  });

  it('dates a record without received-at by its timestamp', () => {
    expect(receivedAtOf({ key: null, value: null, headers: {}, timestamp: '1700000000000' })).toBe(
      1_700_000_000_000,
    );
    expect(receivedAtOf({ key: null, value: null, headers: { 'received-at': 'soon' }, timestamp: '5' })).toBe(
      5,
    );
    expect(receivedAtOf({ key: null, value: null, headers: { 'received-at': '0' }, timestamp: '6' })).toBe(6);
  });

  it('names an encoding it cannot read, and sees gzip by its magic bytes when the header is lost', () => {
    const br = { key: null, value: Buffer.from('{}'), headers: { 'content-encoding': ' BR ' } };
    expect(bodyEncodingOf(br)).toEqual({ kind: 'unsupported', encoding: 'br' });
    expect(bodyEncodingOf({ key: null, value: gzipSync('{}') })).toEqual({ kind: 'gzip' });
    expect(
      bodyEncodingOf({ key: null, value: Buffer.from('{}'), headers: { 'content-encoding': 'x-gzip' } }),
    ).toEqual({ kind: 'gzip' });
  });
});
