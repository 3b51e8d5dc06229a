/** The message family (processors/stages/normalize/messages.ts). */
import { messageFields, withoutBody } from '../../../../../processors/stages/normalize/messages';
import type { DomainEvent } from '../../../../../processors/types';
import { messageObject } from '../../../schemas/fixtures/notifications';
import { NOTIFICATION_ID, normalizeFailure, notification } from './notification';

describe('messageFields', () => {
  it('reads the message and sets the suffix flags', () => {
    const f = messageFields(notification('message.created.cleaned.transformed', messageObject()));
    expect(f).toMatchObject({ action: 'CREATED', cleaned: true, transformed: true, metadata_only: false });
    expect(f.message).toMatchObject({
      id: '1915a2b3c4d5e6f7',
      date: 1723821981000,
      from: [{ name: 'Leyah Miller', email: 'leyah@example.com' }],
      folders: ['INBOX', 'UNREAD'],
      metadata: {},
    });
    expect(f.body_omitted_bytes).toBeNull();
  });

  it('says the body was truncated only while it is missing and not fetched', () => {
    const { body: _body, ...withoutItsBody } = messageObject();
    expect(messageFields(notification('message.created.truncated', withoutItsBody)).body_truncated).toBe(
      true,
    );
    const fetched = notification('message.created.truncated', withoutItsBody, { expanded: true });
    expect(messageFields(fetched).body_truncated).toBe(false);
    expect(messageFields(notification('message.created', withoutItsBody)).body_truncated).toBe(false);
  });

  it('takes headers, else basic_headers; a header without a name is dropped, a missing value is empty', () => {
    const basic = messageFields(
      notification('message.updated.metadata', {
        id: 'm',
        basic_headers: [{ name: 'Subject' }, { value: 'x' }],
      }),
    );
    expect(basic.metadata_only).toBe(true);
    expect(basic.message?.headers).toEqual([{ name: 'Subject', value: '' }]);
    const both = messageFields(
      notification('message.updated', { id: 'm', headers: [{ name: 'A', value: '1' }], basic_headers: [] }),
    );
    expect(both.message?.headers).toEqual([{ name: 'A', value: '1' }]);
  });

  it('falls back to the notification object id and reads cleaning_status as an enum', () => {
    const f = messageFields(notification('message.created.cleaned', { cleaning_status: 'failed' }));
    expect(f.message?.id).toBe(NOTIFICATION_ID);
    expect(f.message?.cleaning_status).toBe('FAILED');
  });

  it('emits a message gone on expansion as a delete without reading its object', () => {
    const f = messageFields(notification('message.updated.truncated', null, { goneOnExpand: true }));
    expect(f).toMatchObject({ action: 'DELETED', message: null, body_truncated: false });
  });

  it('lets a delete go without an object, fails a create without one', () => {
    expect(messageFields(notification('message.deleted', null)).message).toBeNull();
    expect(normalizeFailure(() => messageFields(notification('message.created', null))).code).toBe(
      'NORMALIZE_FAILED',
    );
  });
});

describe('withoutBody', () => {
  function event(schema: string, value: Record<string, unknown>): DomainEvent {
    return { topic: 't', key: 'k', schema, value, headers: {} };
  }

  it('leaves the body out and says how many bytes it had', () => {
    const e = event('messages', {
      action: 'CREATED',
      message: { id: 'm', body: 'héllo' },
      body_omitted_bytes: null,
    });
    expect(withoutBody(e)?.value).toEqual({
      action: 'CREATED',
      message: { id: 'm', body: null },
      body_omitted_bytes: 6,
    });
  });

  it('has nothing to leave out of another schema or of a message without a body', () => {
    expect(withoutBody(event('events', { event: { body: 'x' } }))).toBeUndefined();
    expect(withoutBody(event('messages', { message: { id: 'm', body: null } }))).toBeUndefined();
    expect(withoutBody(event('messages', { message: null }))).toBeUndefined();
  });
});
