/**
 * Properties of the ingress's envelope summary (ingress/envelope.ts) over generated input: whatever the
 * bytes, the only failures are the two bad-input codes the HTTP layer maps to 400; the Kafka key follows
 * the documented precedence exactly; and a gzip delivery summarizes like its plain JSON.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { gunzipBounded, readEnvelope, summarizeEnvelope } from '../../../ingress/envelope';
import { BadInputError, ErrorCodes } from '../../../lib/errors';

const RUNS = { numRuns: 300 };

/** The error code, or 'ok'; anything that is not a BadInputError is rethrown (a crash, i.e. a 503). */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof BadInputError) return err.code;
    throw err;
  }
}

/** A value for a field the summary reads: absent, a string (maybe empty), or another JSON type. */
const fieldValue = fc.option(
  fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constant(''),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }),
    fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }),
  ),
  { nil: undefined },
);

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

describe('summarizeEnvelope (property-based)', () => {
  it('never fails with anything but MALFORMED_JSON or MALFORMED_ENVELOPE, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        expect(['ok', ErrorCodes.MALFORMED_JSON, ErrorCodes.MALFORMED_ENVELOPE]).toContain(
          outcome(() => summarizeEnvelope(Buffer.from(bytes))),
        );
      }),
      RUNS,
    );
  });

  it('accepts every JSON object and refuses every other JSON value as MALFORMED_ENVELOPE', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (value) => {
        const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
        expect(outcome(() => summarizeEnvelope(Buffer.from(JSON.stringify(value))))).toBe(
          isObject ? 'ok' : ErrorCodes.MALFORMED_ENVELOPE,
        );
      }),
      RUNS,
    );
  });

  it('keys by data.object.grant_id, else data.grant_id, else data.application_id (non-empty strings only)', () => {
    fc.assert(
      fc.property(
        fc.record({
          id: fieldValue,
          type: fieldValue,
          attempt: fieldValue,
          objectGrant: fieldValue,
          dataGrant: fieldValue,
          app: fieldValue,
          objectIsArray: fc.boolean(),
        }),
        (f) => {
          const object = f.objectIsArray ? [f.objectGrant] : { grant_id: f.objectGrant, id: 'o' };
          const envelope = {
            id: f.id,
            type: f.type,
            webhook_delivery_attempt: f.attempt,
            data: { application_id: f.app, grant_id: f.dataGrant, object },
          };
          const s = summarizeEnvelope(Buffer.from(JSON.stringify(envelope)));
          const objectGrant = f.objectIsArray ? undefined : f.objectGrant;
          const expected = nonEmpty(objectGrant)
            ? { key: objectGrant, keySource: 'data.object.grant_id' }
            : nonEmpty(f.dataGrant)
              ? { key: f.dataGrant, keySource: 'data.grant_id' }
              : nonEmpty(f.app)
                ? { key: f.app, keySource: 'data.application_id' }
                : { key: undefined, keySource: 'none' };
          expect({ key: s.key, keySource: s.keySource }).toEqual(expected);
          expect(s.id).toBe(nonEmpty(f.id) ? f.id : undefined);
          expect(s.type).toBe(nonEmpty(f.type) ? f.type : undefined);
          // JSON has no integer type: 2.0 arrives as 2, which is an integer.
          const attempt = f.attempt === undefined ? undefined : JSON.parse(JSON.stringify(f.attempt));
          expect(s.deliveryAttempt).toBe(Number.isInteger(attempt) ? attempt : undefined);
        },
      ),
      RUNS,
    );
  });
});

describe('readEnvelope (property-based)', () => {
  it('summarizes a gzip delivery exactly like the same JSON sent plain', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 3 }), async (value) => {
        const body = Buffer.from(JSON.stringify(value));
        const plain = await readEnvelope(body, 'identity', 1 << 20).then(
          (s) => s,
          (err: BadInputError) => err.code,
        );
        const gzip = await readEnvelope(gzipSync(body), 'gzip', 1 << 20).then(
          (s) => s,
          (err: BadInputError) => err.code,
        );
        expect(gzip).toEqual(plain);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses bytes that are not gzip, and inflation past the limit, as bad input — never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
          fc.integer({ min: 1, max: 4096 }).map((n) => gzipSync(Buffer.alloc(n, 'a'))),
        ),
        fc.integer({ min: 1, max: 2048 }),
        async (body, limit) => {
          const code = await gunzipBounded(body, limit).then(
            (out) => (out.length <= limit ? 'ok' : 'over the limit'),
            (err: unknown) => (err instanceof BadInputError ? err.code : `unexpected ${String(err)}`),
          );
          expect(['ok', ErrorCodes.MALFORMED_JSON, ErrorCodes.BODY_TOO_LARGE]).toContain(code);
        },
      ),
      { numRuns: 200 },
    );
  });
});
