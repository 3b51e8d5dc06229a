import { classifyTrigger } from '../../../processors/triggers';

describe('classifyTrigger', () => {
  it.each([
    ['message.created', 'message.created', [], 'message', 'created'],
    [
      'message.created.cleaned.transformed.truncated',
      'message.created',
      ['cleaned', 'transformed', 'truncated'],
      'message',
      'created',
    ],
    ['message.updated.truncated', 'message.updated', ['truncated'], 'message', 'updated'],
    ['message.created.metadata', 'message.created', ['metadata'], 'message', 'created'],
    ['message.opened', 'message.opened', [], 'tracking', 'opened'],
    ['message.opened.legacy', 'message.opened', ['legacy'], 'tracking', 'opened'],
    ['thread.replied', 'thread.replied', [], 'tracking', 'replied'],
    ['message.send_failed', 'message.send_failed', [], 'delivery', 'send_failed'],
    ['message.bounce_detected', 'message.bounce_detected', [], 'delivery', 'bounce_detected'],
    ['message.transactional.bounced', 'message.transactional.bounced', [], 'delivery', 'bounced'],
    ['event.updated.transformed', 'event.updated', ['transformed'], 'event', 'updated'],
    ['calendar.deleted', 'calendar.deleted', [], 'calendar', 'deleted'],
    ['contact.updated', 'contact.updated', [], 'contact', 'updated'],
    ['folder.created', 'folder.created', [], 'folder', 'created'],
    ['grant.expired', 'grant.expired', [], 'grant', 'expired'],
    ['grant.imap_sync_completed', 'grant.imap_sync_completed', [], 'grant', 'imap_sync_completed'],
    ['notetaker.media', 'notetaker.media', [], 'unmodeled', 'media'],
    ['booking.created', 'booking.created', [], 'unmodeled', 'created'],
    ['message.intelligence.order', 'message.intelligence.order', [], 'unmodeled', 'order'],
    ['something.new', 'something.new', [], 'unmodeled', 'new'],
  ])('%s', (type, baseType, suffixes, family, action) => {
    expect(classifyTrigger(type)).toEqual({ baseType, suffixes, family, action });
  });
});
