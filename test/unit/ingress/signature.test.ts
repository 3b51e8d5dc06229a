import fc from 'fast-check';
import { parseSignatureHeader, signBody, verifySignature } from '../../../ingress/signature';
import { CONTRACT_VECTOR } from '../../helpers/signed-payload';

const body = Buffer.from(CONTRACT_VECTOR.body, 'utf8');

describe('signature', () => {
  it("reproduces the contract's test vectors (secret and mock-webhook-secret)", () => {
    expect(body.length).toBe(342);
    expect(signBody(body, CONTRACT_VECTOR.secret)).toBe(CONTRACT_VECTOR.signature);
    expect(signBody(body, 'mock-webhook-secret')).toBe(CONTRACT_VECTOR.mockSignature);
  });

  it('accepts the test vector against its secret', () => {
    expect(verifySignature(body, CONTRACT_VECTOR.signature, [CONTRACT_VECTOR.secret])).toEqual({
      ok: true,
      secretIndex: 0,
    });
  });

  it('accepts any of several secrets (rotation) and says which one matched', () => {
    expect(verifySignature(body, CONTRACT_VECTOR.signature, ['other', CONTRACT_VECTOR.secret])).toEqual({
      ok: true,
      secretIndex: 1,
    });
  });

  it('tolerates surrounding whitespace and upper-case hex', () => {
    const header = `  ${CONTRACT_VECTOR.signature.toUpperCase()} `;
    expect(verifySignature(body, header, [CONTRACT_VECTOR.secret]).ok).toBe(true);
  });

  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    ['   ', 'missing'],
    ['sha256=f1344fa7', 'malformed'],
    [`sha256=${CONTRACT_VECTOR.signature}`, 'malformed'],
    [CONTRACT_VECTOR.signature.slice(1), 'malformed'],
    [[CONTRACT_VECTOR.signature, CONTRACT_VECTOR.signature], 'malformed'],
    ['z'.repeat(64), 'malformed'],
  ])('fails %p as %s', (header, reason) => {
    expect(verifySignature(body, header, [CONTRACT_VECTOR.secret])).toEqual({ ok: false, reason });
  });

  it('fails a signature made with another secret, and a body changed by one byte', () => {
    expect(verifySignature(body, signBody(body, 'wrong'), [CONTRACT_VECTOR.secret])).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    const changed = Buffer.from(body);
    changed[10] = (changed[10] as number) ^ 1;
    expect(verifySignature(changed, CONTRACT_VECTOR.signature, [CONTRACT_VECTOR.secret]).ok).toBe(false);
  });

  it('fails when the destination has no secret', () => {
    expect(verifySignature(body, CONTRACT_VECTOR.signature, [])).toEqual({ ok: false, reason: 'no_secret' });
  });

  it('parses a header into 32 bytes', () => {
    expect(parseSignatureHeader(CONTRACT_VECTOR.signature)).toEqual(
      Buffer.from(CONTRACT_VECTOR.signature, 'hex'),
    );
  });

  it('property: sign → verify holds for any bytes and secret; any flipped bit fails', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.nat(),
        (bytes, secret, flip) => {
          const b = Buffer.from(bytes);
          const sig = signBody(b, secret);
          expect(verifySignature(b, sig, ['x', secret]).ok).toBe(true);
          if (b.length > 0) {
            const tampered = Buffer.from(b);
            const i = flip % b.length;
            tampered[i] = (tampered[i] as number) ^ (1 << (flip % 8));
            expect(verifySignature(tampered, sig, [secret]).ok).toBe(false);
          }
        },
      ),
    );
  });
});
