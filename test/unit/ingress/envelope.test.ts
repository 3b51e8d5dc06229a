import { gzipSync } from 'node:zlib';
import { readEnvelope, summarizeEnvelope } from '../../../ingress/envelope';
import { ErrorCodes, NylasStreamError } from '../../../lib/errors';
import { CONTRACT_VECTOR } from '../../helpers/signed-payload';

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof NylasStreamError) return err.code;
    throw err;
  }
  throw new Error('expected an error');
}

describe('summarizeEnvelope', () => {
  it('reads id, type, attempt and the grant id of the contract vector', () => {
    expect(summarizeEnvelope(Buffer.from(CONTRACT_VECTOR.body))).toEqual({
      id: 'a1b2c3d4-0000-4000-8000-000000000001',
      type: 'grant.deleted',
      deliveryAttempt: 1,
      key: 'e19f8e1a-eb1c-4673-b602-ba4a189b18bd',
      keySource: 'data.object.grant_id',
    });
  });

  it('prefers data.object.grant_id, then data.grant_id, then data.application_id', () => {
    const both = {
      id: 'i',
      type: 't',
      data: { grant_id: 'g-data', application_id: 'app', object: { grant_id: 'g-obj' } },
    };
    expect(summarizeEnvelope(json(both)).key).toBe('g-obj');
    const dataOnly = {
      id: 'i',
      type: 'message.opened',
      data: { grant_id: 'g-data', application_id: 'app', object: {} },
    };
    expect(summarizeEnvelope(json(dataOnly))).toMatchObject({ key: 'g-data', keySource: 'data.grant_id' });
    const appOnly = { id: 'i', type: 'new.trigger', data: { application_id: 'app', object: null } };
    expect(summarizeEnvelope(json(appOnly))).toMatchObject({ key: 'app', keySource: 'data.application_id' });
  });

  it('accepts an object without id, type or any id at all (the processor decides what to do with it)', () => {
    expect(summarizeEnvelope(json({ hello: 'world' }))).toEqual({
      id: undefined,
      type: undefined,
      deliveryAttempt: undefined,
      key: undefined,
      keySource: 'none',
    });
  });

  it('ignores ids of the wrong type', () => {
    const odd = {
      id: 7,
      type: ['x'],
      webhook_delivery_attempt: '2',
      data: { object: { grant_id: 5 }, grant_id: '' },
    };
    expect(summarizeEnvelope(json(odd))).toMatchObject({
      id: undefined,
      type: undefined,
      deliveryAttempt: undefined,
      key: undefined,
    });
  });

  it.each([
    ['{"id":', ErrorCodes.MALFORMED_JSON],
    ['', ErrorCodes.MALFORMED_JSON],
    ['[1,2]', ErrorCodes.MALFORMED_ENVELOPE],
    ['"text"', ErrorCodes.MALFORMED_ENVELOPE],
    ['null', ErrorCodes.MALFORMED_ENVELOPE],
  ])('refuses %p with %s', (text, code) => {
    expect(() => summarizeEnvelope(Buffer.from(text))).toThrow(
      expect.objectContaining({ code, retriable: false }),
    );
  });
});

describe('readEnvelope', () => {
  it('gunzips a compressed body first', async () => {
    const s = await readEnvelope(gzipSync(CONTRACT_VECTOR.body), 'gzip', 1_000_000);
    expect(s.id).toBe('a1b2c3d4-0000-4000-8000-000000000001');
  });

  it('refuses a body that says gzip but is not (400), and a gzip bomb past the limit (413)', async () => {
    expect(await codeOf(readEnvelope(Buffer.from(CONTRACT_VECTOR.body), 'gzip', 1_000_000))).toBe(
      ErrorCodes.MALFORMED_JSON,
    );
    const bomb = gzipSync(Buffer.alloc(5_000_000, 0x20));
    expect(bomb.length).toBeLessThan(10_000);
    expect(await codeOf(readEnvelope(bomb, 'gzip', 1_000_000))).toBe(ErrorCodes.BODY_TOO_LARGE);
  });
});
