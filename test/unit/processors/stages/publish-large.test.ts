/**
 * The encoder writes into a reused scratch buffer and grows it when a value does not fit. A value more
 * than twice the scratch size (a message expanded from `.truncated`, a long body) must be encoded on the
 * first call, not fail the round: found by `npm run bench` (a 200 KB message body after 64 KB scratch).
 */
import { loadTopicsConfig } from '../../../../lib/config';
import { decode } from '../../../../processors/stages/decode';
import { normalize } from '../../../../processors/stages/normalize';
import { DomainEventEncoder } from '../../../../processors/stages/publish';
import { schemaByName } from '../../../../schemas/index';
import { messageNotification, messageObject, rawRecord } from '../../../helpers/raw-notifications';

const topics = loadTopicsConfig({});

function messageEvent(bodyBytes: number, id: string) {
  const body = `<div>${'x'.repeat(bodyBytes)}</div>`;
  const d = decode(
    rawRecord({
      grantId: 'g',
      offset: 1,
      body: messageNotification('g', {
        id,
        messageId: `m-${id}`,
        object: messageObject('g', `m-${id}`, { body }),
      }),
    }),
  );
  if (!d.ok) throw new Error(d.deadLetter.message);
  return normalize(d.notification, topics);
}

describe('publish: values larger than the scratch buffer', () => {
  it.each([200_000, 1_500_000])('encodes a %d-byte body on the first call and reads it back', (bytes) => {
    const encoder = new DomainEventEncoder(new Map([[topics.emailMessages, 9]]));
    const value = encoder.encode(messageEvent(bytes, `n-${bytes}`));
    expect(value.readUInt32BE(1)).toBe(9);
    const decoded = schemaByName('messages').type.fromBuffer(value.subarray(5)) as {
      message: { body: string };
    };
    expect(decoded.message.body.length).toBe(bytes + '<div></div>'.length);
  });

  it('keeps encoding small values correctly after growing', () => {
    const encoder = new DomainEventEncoder(new Map([[topics.emailMessages, 9]]));
    encoder.encode(messageEvent(300_000, 'big'));
    const small = encoder.encode(messageEvent(10, 'small'));
    const decoded = schemaByName('messages').type.fromBuffer(small.subarray(5)) as {
      message: { body: string };
    };
    expect(decoded.message.body).toBe(`<div>${'x'.repeat(10)}</div>`);
  });
});
