/** The pieces the family modules share (processors/stages/normalize/shared.ts). */
import { BadInputError } from '../../../../../lib/errors';
import {
  addressees,
  attachments,
  crudAction,
  fail,
  objectFor,
  participants,
} from '../../../../../processors/stages/normalize/shared';
import { NOTIFICATION_ID, normalizeFailure, notification } from './notification';

describe('crudAction', () => {
  it('maps the trigger action, anything else UNKNOWN', () => {
    expect(crudAction(notification('folder.created', {}))).toBe('CREATED');
    expect(crudAction(notification('folder.updated', {}))).toBe('UPDATED');
    expect(crudAction(notification('folder.deleted', {}))).toBe('DELETED');
    expect(crudAction(notification('folder.renamed', {}))).toBe('UNKNOWN');
  });

  it('is DELETED whatever the trigger when the API said the object is gone', () => {
    expect(crudAction(notification('message.updated', {}, { goneOnExpand: true }))).toBe('DELETED');
  });
});

describe('objectFor', () => {
  it('gives the object of a create or update, and of a delete when it has one', () => {
    expect(objectFor(notification('folder.created', { id: 'f' }), 'CREATED')).toEqual({ id: 'f' });
    expect(objectFor(notification('folder.deleted', { id: 'f' }), 'DELETED')).toEqual({ id: 'f' });
  });

  it('lets a delete go without an object', () => {
    expect(objectFor(notification('folder.deleted', null), 'DELETED')).toBeNull();
  });

  it('fails a create or update without one: NORMALIZE_FAILED naming the notification', () => {
    const failure = normalizeFailure(() => objectFor(notification('folder.updated', null), 'UPDATED'));
    expect(failure).toEqual({
      code: 'NORMALIZE_FAILED',
      message: `folder.updated ${NOTIFICATION_ID}: data.object is null`,
    });
  });
});

describe('fail', () => {
  it('is a non-retriable BadInputError whose details locate the raw record', () => {
    const err = fail(notification('folder.updated', {}, { offset: '77' }), 'broken');
    expect(err).toBeInstanceOf(BadInputError);
    expect(err.retriable).toBe(false);
    expect(err.details).toEqual({
      notificationId: NOTIFICATION_ID,
      type: 'folder.updated',
      sourceTopic: 'nylas.webhooks.raw',
      sourcePartition: 3,
      sourceOffset: '77',
    });
  });
});

describe('participants and addressees', () => {
  it('keeps entries with an address (a bare string is one) and drops the others', () => {
    expect(participants(['a@x', { name: 'B', email: 'b@x' }, { name: 'no address' }, 7, null])).toEqual([
      { name: null, email: 'a@x' },
      { name: 'B', email: 'b@x' },
    ]);
    expect(participants('a@x')).toBeNull();
  });

  it('reads the five address lists in the order the schemas declare them', () => {
    const lists = addressees({ reply_to: ['r@x'], from: ['f@x'], bcc: null });
    expect(Object.keys(lists)).toEqual(['from', 'to', 'cc', 'bcc', 'reply_to']);
    expect(lists).toEqual({
      from: [{ name: null, email: 'f@x' }],
      to: null,
      cc: null,
      bcc: null,
      reply_to: [{ name: null, email: 'r@x' }],
    });
  });
});

describe('attachments', () => {
  it('drops an attachment without an id and reads the rest leniently', () => {
    const read = attachments([
      { filename: 'no-id.pdf' },
      { id: 9, size: '12', is_inline: 'yes', filename: 7 },
    ]);
    expect(read).toHaveLength(1);
    expect(read?.[0]).toMatchObject({
      id: '9',
      size: 12,
      is_inline: null,
      filename: '7',
      content_type: null,
    });
  });
});
