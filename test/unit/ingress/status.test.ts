import fc from 'fast-check';
import { httpOutcomeFor, NYLAS_RETRIED_STATUSES } from '../../../ingress/status';
import {
  BadInputError,
  type ErrorCode,
  ErrorCodes,
  NylasStreamError,
  TransientError,
} from '../../../lib/errors';

describe('httpOutcomeFor', () => {
  it.each([
    [ErrorCodes.SIGNATURE_MISSING, 401],
    [ErrorCodes.SIGNATURE_INVALID, 401],
    [ErrorCodes.MALFORMED_JSON, 400],
    [ErrorCodes.MALFORMED_ENVELOPE, 400],
    [ErrorCodes.BODY_TOO_LARGE, 413],
    [ErrorCodes.UNSUPPORTED_MEDIA_TYPE, 415],
    [ErrorCodes.SOURCE_NOT_ALLOWED, 403],
  ])('maps bad input %s to %i, which Nylas does not retry', (code, status) => {
    const o = httpOutcomeFor(new BadInputError(code, 'x'), 5);
    expect(o).toEqual({ status, retryAfterSeconds: undefined, code, nylasRetries: false });
    expect(NYLAS_RETRIED_STATUSES.has(o.status)).toBe(false);
  });

  it.each([
    ErrorCodes.KAFKA_UNAVAILABLE,
    ErrorCodes.ACK_TIMEOUT,
    ErrorCodes.OVERLOADED,
    ErrorCodes.SHUTTING_DOWN,
    ErrorCodes.UNKNOWN_DESTINATION,
    ErrorCodes.UNVERIFIED_BUDGET_FULL,
    ErrorCodes.SOURCE_NOT_ALLOWED,
  ])('maps transient %s to 503 with Retry-After', (code) => {
    expect(httpOutcomeFor(new TransientError(code, 'x'), 7)).toEqual({
      status: 503,
      retryAfterSeconds: 7,
      code,
      nylasRetries: true,
    });
  });

  it('maps a body past its deadline to 408, which Nylas retries', () => {
    const o = httpOutcomeFor(new TransientError(ErrorCodes.BODY_DEADLINE_EXCEEDED, 'x'), 5);
    expect(o).toEqual({
      status: 408,
      retryAfterSeconds: undefined,
      code: ErrorCodes.BODY_DEADLINE_EXCEEDED,
      nylasRetries: true,
    });
  });

  it('maps anything unexpected to 503, never 500', () => {
    expect(httpOutcomeFor(new Error('bug'), 5)).toMatchObject({ status: 503, code: 'INTERNAL' });
    expect(httpOutcomeFor('a string', 5).status).toBe(503);
    expect(httpOutcomeFor(undefined, 5).status).toBe(503);
  });

  it('property: every error code answers 400, 401, 403, 413, 415 or a retried 408 / 503 — never 500', () => {
    const codes = Object.values(ErrorCodes) as ErrorCode[];
    fc.assert(
      fc.property(fc.constantFrom(...codes), fc.boolean(), (code, retriable) => {
        const o = httpOutcomeFor(new NylasStreamError(code, 'x', { retriable }), 5);
        expect([400, 401, 403, 408, 413, 415, 503]).toContain(o.status);
        expect(o.nylasRetries).toBe(NYLAS_RETRIED_STATUSES.has(o.status));
        if (o.status === 503) expect(o.retryAfterSeconds).toBe(5);
      }),
    );
  });
});
