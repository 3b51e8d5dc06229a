import fc from 'fast-check';
import { MOCK_WEBHOOK_SECRET, signBody, signStandardWebhook, verifySignature } from '../../../simulator';

// docs/nylas-contract.md §2.1 test vector: 342 bytes, no trailing newline.
const VECTOR_BODY =
  '{"specversion":"1.0","type":"grant.deleted","source":"/nylas/system","id":"a1b2c3d4-0000-4000-8000-000000000001","time":1723821985,"webhook_delivery_attempt":1,"data":{"application_id":"app-123","object":{"code":25013,"grant_id":"e19f8e1a-eb1c-4673-b602-ba4a189b18bd","integration_id":"int-1","provider":"google","email":"user@example.com"}}}';

describe('signBody (§2.1)', () => {
  it('the vector body is exactly 342 bytes', () => {
    expect(Buffer.byteLength(VECTOR_BODY)).toBe(342);
  });

  it('matches the contract vector for the OAS example secret', () => {
    expect(signBody(VECTOR_BODY, '41dD3-nXTUfebYuk81Gr')).toBe(
      'f1344fa71fec36f583ee448691eed0e1992a0c56020e9869e91ddf03fdab5f96',
    );
  });

  it('matches the contract vector for mock-webhook-secret (§6.6)', () => {
    expect(signBody(Buffer.from(VECTOR_BODY), MOCK_WEBHOOK_SECRET)).toBe(
      '82fb6abbfc4fc52d624504499760fcff28eb453f09e3745098b47ab12bb40759',
    );
  });

  it('is lowercase hex of 64 characters, and a Buffer and its UTF-8 string sign the same', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), (body, secret) => {
        const sig = signBody(body, secret);
        expect(sig).toMatch(/^[0-9a-f]{64}$/);
        expect(signBody(Buffer.from(body, 'utf8'), secret)).toBe(sig);
      }),
    );
  });

  it('changes when one byte of the body changes (a re-serialized body does not verify)', () => {
    const reserialized = JSON.stringify(JSON.parse(VECTOR_BODY), null, 1);
    expect(
      verifySignature(reserialized, '41dD3-nXTUfebYuk81Gr', signBody(VECTOR_BODY, '41dD3-nXTUfebYuk81Gr')),
    ).toBe(false);
  });

  it('verifySignature accepts the right signature (case-insensitively) and rejects others', () => {
    const sig = signBody(VECTOR_BODY, 's3cret');
    expect(verifySignature(VECTOR_BODY, 's3cret', sig)).toBe(true);
    expect(verifySignature(VECTOR_BODY, 's3cret', sig.toUpperCase())).toBe(true);
    expect(verifySignature(VECTOR_BODY, 'other', sig)).toBe(false);
    expect(verifySignature(VECTOR_BODY, 's3cret', undefined)).toBe(false);
    expect(verifySignature(VECTOR_BODY, 's3cret', sig.slice(1))).toBe(false);
  });
});

describe('signStandardWebhook (§8)', () => {
  it('matches the contract vector', () => {
    expect(
      signStandardWebhook(
        VECTOR_BODY,
        'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
        'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
        1723821990,
      ),
    ).toBe('v1,N/D396UTUOD+muxj4qsKUX34ioLpbbjbQaGVcdAFpQ0=');
  });
});
