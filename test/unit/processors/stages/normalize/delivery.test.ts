/** The delivery family (processors/stages/normalize/delivery.ts). */
import { deliveryFields } from '../../../../../processors/stages/normalize/delivery';
import { normalizeFailure, notification } from './notification';

describe('deliveryFields', () => {
  it('message.send_failed: the reason and the error from data, the message when there is one', () => {
    const error = {
      type: 'provider_error',
      message: 'quota',
      status_code: '429',
      provider_error: { code: 1 },
    };
    const f = deliveryFields(
      notification('message.send_failed', null, { data: { reason: 'rate limited', error } }),
    );
    expect(f).toMatchObject({ action: 'SEND_FAILED', transactional: false, message: null, bounce: null });
    expect(f.failure).toEqual({
      reason: 'rate limited',
      error_type: 'provider_error',
      error_message: 'quota',
      status_code: 429,
      provider_error_json: '{"code":1}',
    });
    const withMessage = deliveryFields(
      notification('message.send_failed', { id: 's-1', send_at: 1700000000 }),
    );
    expect(withMessage.message).toMatchObject({ id: 's-1', send_at: 1700000000000 });
  });

  it('message.send_success: the sent message; a sent message without an id is none', () => {
    const f = deliveryFields(
      notification('message.send_success', { id: 's-1', to: ['a@x'], use_draft: true }),
    );
    expect(f.action).toBe('SEND_SUCCEEDED');
    expect(f.message).toMatchObject({ id: 's-1', to: [{ name: null, email: 'a@x' }], use_draft: true });
    expect(deliveryFields(notification('message.send_success', { subject: 'no id' })).message).toBeNull();
  });

  it('message.bounce_detected: addresses split from text, the date kept and parsed', () => {
    const f = deliveryFields(
      notification('message.bounce_detected', {
        bounce_reason: 'mailbox full',
        type: 'soft',
        bounced_addresses: 'a@x, b@x;c@x',
        bounce_date: 'Tue, 20 Aug 2024 10:00:00 +0000',
        origin: { id: 'o-1', to: ['d@x'], cc: 'e@x f@x' },
      }),
    );
    expect(f.action).toBe('BOUNCED');
    expect(f.bounce).toMatchObject({
      reason: 'mailbox full',
      bounce_type: 'soft',
      bounced_addresses: ['a@x', 'b@x', 'c@x'],
      bounce_date: 'Tue, 20 Aug 2024 10:00:00 +0000',
      bounced_at: Date.UTC(2024, 7, 20, 10),
    });
    expect(f.bounce?.origin).toMatchObject({ id: 'o-1', to: ['d@x'], cc: ['e@x', 'f@x'], bcc: null });
  });

  it('fails a send success or a bounce without an object', () => {
    for (const type of ['message.send_success', 'message.bounce_detected']) {
      expect(normalizeFailure(() => deliveryFields(notification(type, null))).code).toBe('NORMALIZE_FAILED');
    }
  });

  it('transactional and agent-account deliverability: the whole object as JSON, its message typed', () => {
    const object = { message: { id: 'm-1' }, recipient: 'a@x' };
    const f = deliveryFields(notification('message.transactional.bounced', object));
    expect(f).toMatchObject({ action: 'BOUNCED', transactional: true, bounce: null, failure: null });
    expect(f.message).toMatchObject({ id: 'm-1' });
    expect(f.details_json).toBe(JSON.stringify(object));
  });

  it('an action it does not know is UNKNOWN, without an object too', () => {
    const f = deliveryFields(notification('message.transactional.deferred', null));
    expect(f).toMatchObject({ action: 'UNKNOWN', message: null, details_json: null });
  });
});
