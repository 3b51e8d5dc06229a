import fc from 'fast-check';
import {
  applyTruncation,
  buildNotification,
  DEFAULT_NOTIFICATION_BYTE_LIMIT,
  mustTruncate,
} from '../../../../simulator';

function message(type: string, bodyLength: number) {
  return buildNotification({
    type,
    source: '/google/emails/realtime',
    id: 'n-1',
    time: 1,
    applicationId: 'app',
    object: {
      id: 'm-1',
      grant_id: 'g',
      object: 'message',
      subject: 's',
      attachments: [{ id: 'a' }],
      body: 'b'.repeat(bodyLength),
    },
  });
}

describe('truncation rule (§4.1, §9 #15)', () => {
  it('the default limit is 1 000 000 bytes', () => {
    expect(DEFAULT_NOTIFICATION_BYTE_LIMIT).toBe(1_000_000);
  });

  it('drops only body and appends .truncated when a message.* payload exceeds the limit', () => {
    const big = message('message.created', 1_000_000);
    const t = applyTruncation(big);
    expect(t.type).toBe('message.created.truncated');
    expect(t.data.object).not.toHaveProperty('body');
    expect(t.data.object).toMatchObject({ id: 'm-1', subject: 's', attachments: [{ id: 'a' }] });
    expect(t.id).toBe(big.id);
    // the input is not modified
    expect(big.data.object).toHaveProperty('body');
  });

  it('keeps other suffixes before .truncated', () => {
    expect(applyTruncation(message('message.created.cleaned.transformed', 1_100_000)).type).toBe(
      'message.created.cleaned.transformed.truncated',
    );
  });

  it('leaves payloads at or under the limit alone (boundary)', () => {
    const size = (n: number): number => Buffer.byteLength(JSON.stringify(message('message.updated', n)));
    const overhead = size(0);
    const exact = message('message.updated', DEFAULT_NOTIFICATION_BYTE_LIMIT - overhead);
    expect(Buffer.byteLength(JSON.stringify(exact))).toBe(DEFAULT_NOTIFICATION_BYTE_LIMIT);
    expect(applyTruncation(exact)).toBe(exact);
    const over = message('message.updated', DEFAULT_NOTIFICATION_BYTE_LIMIT - overhead + 1);
    expect(applyTruncation(over).type).toBe('message.updated.truncated');
  });

  it('never truncates non-message types, and never truncates twice', () => {
    expect(mustTruncate('event.updated', 5_000_000)).toBe(false);
    expect(mustTruncate('contact.updated', 5_000_000)).toBe(false);
    expect(mustTruncate('message.created.truncated', 5_000_000)).toBe(false);
    expect(mustTruncate('message.created', 5_000_000)).toBe(true);
  });

  it('takes a configurable limit (1 MiB is the other reading of "1 MB")', () => {
    const n = message('message.created', 1_040_000);
    expect(applyTruncation(n).type).toBe('message.created.truncated');
    expect(applyTruncation(n, 1_048_576).type).toBe('message.created');
  });

  it('property: the result is within the limit or untouched, and only message.* change', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('message.created', 'message.updated', 'event.created', 'message.opened'),
        fc.integer({ min: 0, max: 2000 }),
        (type, n) => {
          const env = message(type, n);
          const t = applyTruncation(env, 1000);
          if (t === env)
            expect(Buffer.byteLength(JSON.stringify(env)) <= 1000 || !type.startsWith('message.')).toBe(true);
          else {
            expect(type.startsWith('message.')).toBe(true);
            expect(t.type).toBe(`${type}.truncated`);
          }
        },
      ),
    );
  });
});
