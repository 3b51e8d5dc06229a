/**
 * Properties of X-Nylas-Signature verification (ingress/signature.ts) over generated bodies, secrets and
 * headers: it never throws; it accepts exactly the lowercase-or-uppercase hex HMAC-SHA256 of the exact
 * bytes under one of the configured secrets (the simulator's independent signer included); it names the
 * first matching secret; any other header is "missing", "malformed" or "mismatch" as documented.
 */
import fc from 'fast-check';
import { parseSignatureHeader, verifySignature } from '../../../ingress/signature';
import { signBody as simulatorSign } from '../../../simulator/signing';

const RUNS = { numRuns: 300 };
const HEX = /^[0-9a-f]{64}$/;

const secret = fc.string({ minLength: 1, maxLength: 40, unit: 'binary' });
const body = fc.uint8Array({ maxLength: 1024 }).map((b) => Buffer.from(b));
const anyHeader = fc.oneof(
  fc.constant(undefined),
  fc.string({ maxLength: 80, unit: 'binary' }),
  fc.stringMatching(/^\s*[0-9a-fA-F]{60,68}\s*$/),
  fc.array(fc.string({ maxLength: 70 }), { maxLength: 3 }),
);

describe('signature verification (property-based)', () => {
  it('never throws, and the only failure reasons are missing, malformed, mismatch and no_secret', () => {
    fc.assert(
      fc.property(body, anyHeader, fc.array(secret, { maxLength: 3 }), (b, header, secrets) => {
        const r = verifySignature(b, header, secrets);
        if (r.ok) expect(secrets[r.secretIndex]).toBeDefined();
        else expect(['missing', 'malformed', 'mismatch', 'no_secret']).toContain(r.reason);
      }),
      RUNS,
    );
  });

  it("accepts the simulator's signature for any body and UTF-8 secret, naming the first secret that matches", () => {
    fc.assert(
      fc.property(body, fc.array(secret, { minLength: 1, maxLength: 4 }), fc.nat(), (b, secrets, pick) => {
        const signer = secrets[pick % secrets.length] as string;
        const r = verifySignature(b, simulatorSign(b, signer), secrets);
        // Keys are UTF-8 encoded (lone surrogates become U+FFFD), so compare secrets as bytes.
        const key = Buffer.from(signer);
        expect(r).toEqual({ ok: true, secretIndex: secrets.findIndex((x) => Buffer.from(x).equals(key)) });
      }),
      RUNS,
    );
  });

  it('ignores case and surrounding whitespace of the hex, nothing else', () => {
    fc.assert(
      fc.property(
        body,
        secret,
        fc.stringMatching(/^[ \t]{0,3}$/),
        fc.stringMatching(/^[ \t]{0,3}$/),
        fc.boolean(),
        (b, s, before, after, upper) => {
          const sig = simulatorSign(b, s);
          expect(verifySignature(b, `${before}${upper ? sig.toUpperCase() : sig}${after}`, [s]).ok).toBe(
            true,
          );
          expect(verifySignature(b, `sha256=${sig}`, [s])).toEqual({ ok: false, reason: 'malformed' });
        },
      ),
      RUNS,
    );
  });

  it('fails any changed hex digit as a mismatch, and a signature under another secret', () => {
    fc.assert(
      fc.property(body, secret, secret, fc.nat(63), fc.nat(14), (b, s, other, at, delta) => {
        const sig = simulatorSign(b, s);
        const digit = Number.parseInt(sig[at] as string, 16);
        const changed = `${sig.slice(0, at)}${((digit + 1 + delta) % 16).toString(16)}${sig.slice(at + 1)}`;
        expect(verifySignature(b, changed, [s])).toEqual({ ok: false, reason: 'mismatch' });
        if (!Buffer.from(other).equals(Buffer.from(s)))
          expect(verifySignature(b, simulatorSign(b, other), [s]).ok).toBe(false);
      }),
      RUNS,
    );
  });

  it('parses a header to 32 bytes exactly when it is 64 hex digits (after trimming), else missing/malformed', () => {
    fc.assert(
      fc.property(anyHeader, (header) => {
        const parsed = parseSignatureHeader(header);
        const text = (Array.isArray(header) ? header.join(', ') : (header ?? '')).trim().toLowerCase();
        if (text === '') expect(parsed).toBe('missing');
        else if (HEX.test(text)) expect(parsed).toEqual(Buffer.from(text, 'hex'));
        else expect(parsed).toBe('malformed');
      }),
      RUNS,
    );
  });
});
