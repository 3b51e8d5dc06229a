import { gzipSync } from 'node:zlib';
import { decode, decodeBatch } from '../../../../processors/stages/decode';
import type { Notification } from '../../../../processors/types';
import {
  APP_ID,
  envelope,
  eventObject,
  messageNotification,
  messageObject,
  rawRecord,
} from '../../../helpers/raw-notifications';

const G = 'grant-1';

function ok(r: ReturnType<typeof decode>): Notification {
  if (!r.ok)
    throw new Error(
      `expected a notification, got dead letter ${r.deadLetter.reason}: ${r.deadLetter.message}`,
    );
  return r.notification;
}

function dead(r: ReturnType<typeof decode>) {
  if (r.ok) throw new Error(`expected a dead letter, got ${r.notification.envelope.type}`);
  return r.deadLetter;
}

describe('decode', () => {
  it('parses a plain JSON notification and precomputes family, grant, object and version', () => {
    const n = ok(
      decode(
        rawRecord({
          grantId: G,
          offset: 7,
          receivedAt: 1_723_821_999_123,
          body: messageNotification(G, { id: 'n1', messageId: 'm1', time: 1_723_821_985 }),
        }),
      ),
    );
    expect(n.envelope.id).toBe('n1');
    expect(n.family).toBe('message');
    expect(n.baseType).toBe('message.created');
    expect(n.action).toBe('created');
    expect(n.grantId).toBe(G);
    expect(n.applicationId).toBe(APP_ID);
    expect(n.object).toEqual({ grantId: G, objectType: 'message', objectId: 'm1' });
    expect(n.version).toBe(1_723_821_985_000n);
    expect(n.receivedAt).toBe(1_723_821_999_123);
    expect(n.record.offset).toBe('7');
    expect(n.expanded).toBe(false);
    expect(n.goneOnExpand).toBe(false);
  });

  it('gunzips when the ingress stored a gzip body (content-encoding: gzip)', () => {
    const n = ok(
      decode(
        rawRecord({
          grantId: G,
          offset: 1,
          gzip: true,
          body: messageNotification(G, { id: 'gz', messageId: 'm' }),
        }),
      ),
    );
    expect(n.envelope.id).toBe('gz');
  });

  it('recognizes gzip by its magic bytes even without the header', () => {
    const body = gzipSync(Buffer.from(JSON.stringify(messageNotification(G, { id: 'gz2', messageId: 'm' }))));
    expect(ok(decode(rawRecord({ grantId: G, offset: 1, body }))).envelope.id).toBe('gz2');
  });

  it('dead-letters a corrupt gzip body as DECOMPRESS_FAILED, not re-drivable', () => {
    const d = dead(
      decode(
        rawRecord({ grantId: G, offset: 3, body: 'not gzip', extraHeaders: { 'content-encoding': 'gzip' } }),
      ),
    );
    expect(d.reason).toBe('DECOMPRESS_FAILED');
    expect(d.stage).toBe('decode');
    expect(d.redrivable).toBe(false);
    expect(d.record.offset).toBe('3');
  });

  it.each([
    ['not JSON', '{"id": ', 'MALFORMED_JSON'],
    ['a JSON array', '[1,2]', 'MALFORMED_ENVELOPE'],
    ['empty', '', 'DECOMPRESS_FAILED'],
  ])('dead-letters %s', (_name, body, reason) => {
    expect(dead(decode(rawRecord({ grantId: G, offset: 1, body }))).reason).toBe(reason);
  });

  it.each([
    ['id', { id: undefined }],
    ['type', { type: '' }],
    ['time', { time: 'yesterday' }],
    ['data', { data: 'x' }],
    ['application_id', { data: { object: null } }],
    ['object', { data: { application_id: APP_ID, object: [1] } }],
  ])('dead-letters an envelope with a bad %s as MALFORMED_ENVELOPE', (field, patch) => {
    const env = {
      ...envelope({ type: 'message.created', id: 'x', object: messageObject(G, 'm') }),
      ...patch,
    };
    const d = dead(decode(rawRecord({ grantId: G, offset: 1, body: env })));
    expect(d.reason).toBe('MALFORMED_ENVELOPE');
    expect(d.message).toContain(field);
  });

  it('carries unknown trigger types as unmodeled instead of dropping them', () => {
    const n = ok(
      decode(
        rawRecord({
          grantId: G,
          offset: 1,
          body: envelope({ type: 'notetaker.media', id: 'nt', object: { id: 'nt-1', grant_id: G } }),
        }),
      ),
    );
    expect(n.family).toBe('unmodeled');
    expect(n.object).toEqual({ grantId: G, objectType: 'notetaker', objectId: 'nt-1' });
  });

  it('strips combined suffixes and routes by prefix', () => {
    const n = ok(
      decode(
        rawRecord({
          grantId: G,
          offset: 1,
          body: envelope({
            type: 'message.updated.cleaned.transformed.truncated',
            id: 'x',
            object: messageObject(G, 'm'),
          }),
        }),
      ),
    );
    expect(n.baseType).toBe('message.updated');
    expect(n.suffixes).toEqual(['cleaned', 'transformed', 'truncated']);
    expect(n.action).toBe('updated');
  });

  it('finds the grant in data.object, then data, then falls back to the application id', () => {
    const inObject = ok(
      decode(
        rawRecord({ grantId: G, offset: 1, body: messageNotification('g-obj', { id: 'a', messageId: 'm' }) }),
      ),
    );
    expect(inObject.grantId).toBe('g-obj');
    const inData = ok(
      decode(
        rawRecord({
          grantId: G,
          offset: 2,
          body: envelope({
            type: 'message.bounce_detected',
            id: 'b',
            data: { grant_id: 'g-data' },
            object: { bounce_reason: 'x' },
          }),
        }),
      ),
    );
    expect(inData.grantId).toBe('g-data');
    const none = ok(
      decode(
        rawRecord({
          grantId: G,
          offset: 3,
          body: envelope({ type: 'booking.created', id: 'c', object: { booking_id: 'bk' } }),
        }),
      ),
    );
    expect(none.grantId).toBe(APP_ID);
    expect(none.object.objectId).toBe('bk');
  });

  it('accepts an RFC 3339 time (strict CloudEvents senders) as Unix seconds', () => {
    const env = {
      ...envelope({ type: 'folder.updated', id: 'f', object: { id: 'f1', grant_id: G } }),
      time: '2024-08-16T15:26:25Z',
    };
    expect(ok(decode(rawRecord({ grantId: G, offset: 1, body: env }))).envelope.time).toBe(1_723_821_985);
  });

  it('versions events by updated_at, then sequence; deletes and other families by envelope time', () => {
    const ev = (type: string, object: Record<string, unknown>) =>
      ok(
        decode(
          rawRecord({
            grantId: G,
            offset: 1,
            body: envelope({ type, id: type, time: 1_723_821_985, object }),
          }),
        ),
      );
    expect(ev('event.updated', eventObject(G, 'e', { updated_at: 1_723_821_000, sequence: 3 })).version).toBe(
      1_723_821_000_003n,
    );
    expect(ev('event.updated', eventObject(G, 'e', { updated_at: undefined })).version).toBe(
      1_723_821_985_000n,
    );
    expect(ev('event.deleted', { id: 'e', grant_id: G, calendar_id: 'c' }).version).toBe(1_723_821_985_000n);
    expect(ev('contact.updated', { id: 'c', grant_id: G }).version).toBe(1_723_821_985_000n);
  });

  it('versions tracking by its counters (opens, clicks summed, replies)', () => {
    const tr = (type: string, object: Record<string, unknown>) =>
      ok(
        decode(
          rawRecord({
            grantId: G,
            offset: 1,
            body: envelope({ type, id: type, data: { grant_id: G }, object }),
          }),
        ),
      );
    expect(tr('message.opened', { message_id: 'm', message_data: { count: 4, timestamp: 1 } }).version).toBe(
      4n,
    );
    expect(
      tr('message.link_clicked', {
        message_id: 'm',
        link_data: [
          { count: 2, url: 'a' },
          { count: 5, url: 'b' },
        ],
      }).version,
    ).toBe(7n);
    expect(tr('thread.replied', { message_id: 'r', reply_data: { count: 2 } }).version).toBe(2n);
    expect(tr('message.opened', { message_id: 'm', message_data: { count: 1 } }).object.objectType).toBe(
      'message.opened',
    );
  });

  it('decodeBatch keeps input order and separates dead letters', () => {
    const records = [
      rawRecord({ grantId: G, offset: 1, body: messageNotification(G, { id: 'a', messageId: 'm' }) }),
      rawRecord({ grantId: G, offset: 2, body: '{' }),
      rawRecord({ grantId: G, offset: 3, body: messageNotification(G, { id: 'b', messageId: 'm' }) }),
    ];
    const { notifications, deadLetters } = decodeBatch(records);
    expect(notifications.map((n) => n.envelope.id)).toEqual(['a', 'b']);
    expect(deadLetters.map((d) => d.record.offset)).toEqual(['2']);
  });
});
