import { buildRawRecord, messageBytes } from '../../../ingress/record';

describe('buildRawRecord', () => {
  const base = {
    body: Buffer.from('{"id":"n"}'),
    signature: 'ab'.repeat(32),
    contentType: 'application/json',
    destination: 'default',
    receivedAt: 1_700_000_000_123,
  };

  it('keys by the grant id, keeps the exact bytes and sets every header', () => {
    const m = buildRawRecord({
      ...base,
      contentEncoding: 'gzip',
      envelope: {
        id: 'n',
        type: 'message.created',
        deliveryAttempt: 3,
        key: 'g-1',
        keySource: 'data.object.grant_id',
      },
    });
    expect(m.key).toBe('g-1');
    expect(m.value).toBe(base.body);
    expect(m.headers).toEqual({
      'nylas-signature': base.signature,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'nylas-notification-id': 'n',
      'nylas-type': 'message.created',
      'nylas-delivery-attempt': '3',
      'nylas-destination': 'default',
      'received-at': '1700000000123',
    });
  });

  it('omits content-encoding for identity and the envelope headers it does not know; no key without ids', () => {
    const m = buildRawRecord({
      ...base,
      contentEncoding: 'identity',
      envelope: {
        id: undefined,
        type: undefined,
        deliveryAttempt: undefined,
        key: undefined,
        keySource: 'none',
      },
    });
    expect(m.key).toBeNull();
    expect(Object.keys(m.headers ?? {}).sort()).toEqual(
      ['content-type', 'nylas-destination', 'nylas-signature', 'received-at'].sort(),
    );
  });

  it('measures key, value and headers', () => {
    const m = { key: 'k', value: Buffer.alloc(100), headers: { h: 'v' } };
    expect(messageBytes(m)).toBe(1 + 100 + 2 + 64);
  });
});
