import avro from 'avsc';
import { loadTopicsConfig } from '../../../../lib/config';
import { BadInputError, errorCodeOf, isRetriable, NylasStreamError } from '../../../../lib/errors';
import { decode } from '../../../../processors/stages/decode';
import { normalize } from '../../../../processors/stages/normalize';
import { DomainEventEncoder } from '../../../../processors/stages/publish';
import type { DomainEvent } from '../../../../processors/types';
import { invalidPaths } from '../../../../schemas';
import { schemaByName } from '../../../../schemas/index';
import { envelope, messageNotification, rawRecord } from '../../../helpers/raw-notifications';

const topics = loadTopicsConfig({});

function event(body: Record<string, unknown>): DomainEvent {
  const d = decode(rawRecord({ grantId: 'g', offset: 5, body }));
  if (!d.ok) throw new Error(d.deadLetter.message);
  return normalize(d.notification, topics);
}

describe('publish: Confluent wire format', () => {
  it('frames Avro with magic 0 and the registered schema id of the topic; avsc reads it back', () => {
    const ev = event(messageNotification('g', { id: 'n1', messageId: 'm1' }));
    const encoder = new DomainEventEncoder(new Map([[topics.emailMessages, 4242]]));
    const msg = encoder.message(ev);
    const value = msg.value as Buffer;
    expect(value.readUInt8(0)).toBe(0);
    expect(value.readUInt32BE(1)).toBe(4242);
    const decoded = schemaByName('messages').type.fromBuffer(value.subarray(5)) as Record<string, unknown>;
    expect(decoded.nylas_notification_id).toBe('n1');
    expect(decoded.object_id).toBe('m1');
    expect(msg.key).toBe('g');
    expect(msg.headers).toMatchObject({ 'nylas-notification-id': 'n1' });
  });

  it('resolves type and id once per topic, not per record', () => {
    const typeOf = jest.fn((name: string) => schemaByName(name).type);
    const ids = new Map([[topics.unmodeled, 7]]);
    const get = jest.spyOn(ids, 'get');
    const encoder = new DomainEventEncoder(ids, typeOf);
    for (let i = 0; i < 5; i++) {
      encoder.encode(
        event(envelope({ type: 'booking.created', id: `b${i}`, object: { booking_id: `bk${i}` } })),
      );
    }
    expect(typeOf).toHaveBeenCalledTimes(1);
    expect(get).toHaveBeenCalledTimes(1);
  });

  it('reports a value that does not conform by field path, as BadInputError(SCHEMA_ENCODE_FAILED)', () => {
    const type = avro.Type.forSchema({
      type: 'record',
      name: 'T',
      fields: [{ name: 'inner', type: { type: 'record', name: 'I', fields: [{ name: 'n', type: 'long' }] } }],
    });
    expect(invalidPaths(type, { inner: { n: 'x' } })).toEqual(['inner.n']);
    const encoder = new DomainEventEncoder(new Map([['t', 1]]), () => type);
    const bad: DomainEvent = { topic: 't', key: 'g', schema: 'T', value: { inner: { n: 'x' } }, headers: {} };
    expect(() => encoder.encode(bad)).toThrow(BadInputError);
    expect(() => encoder.encode(bad)).toThrow(/inner\.n/);
  });

  it('refuses a topic without a registered schema id with SCHEMA_INVALID, not a BadInputError', () => {
    const encoder = new DomainEventEncoder(new Map());
    const ev = event(messageNotification('g', { id: 'n2', messageId: 'm2' }));
    let err: unknown;
    try {
      encoder.encode(ev);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NylasStreamError);
    expect(err).not.toBeInstanceOf(BadInputError);
    expect(errorCodeOf(err)).toBe('SCHEMA_INVALID');
    expect(isRetriable(err)).toBe(false);
  });
});
