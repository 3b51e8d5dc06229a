import {
  BadInputError,
  ConfigError,
  ErrorCodes,
  errorCodeOf,
  isRetriable,
  NylasStreamError,
  TransientError,
} from '../../../lib/errors';

describe('error hierarchy', () => {
  it('carries a stable code and the retriable flag', () => {
    const transient = new TransientError(ErrorCodes.KAFKA_UNAVAILABLE, 'broker down');
    const bad = new BadInputError(ErrorCodes.MALFORMED_JSON, 'not json');
    expect(transient).toBeInstanceOf(NylasStreamError);
    expect(transient).toBeInstanceOf(Error);
    expect([transient.code, transient.retriable, transient.name]).toEqual([
      'KAFKA_UNAVAILABLE',
      true,
      'TransientError',
    ]);
    expect([bad.code, bad.retriable, bad.name]).toEqual(['MALFORMED_JSON', false, 'BadInputError']);
    expect(isRetriable(transient)).toBe(true);
    expect(isRetriable(bad)).toBe(false);
    expect(isRetriable(new Error('unknown'))).toBe(false);
    expect(errorCodeOf(bad)).toBe('MALFORMED_JSON');
    expect(errorCodeOf(new Error('x'))).toBe('INTERNAL');
  });

  it('keeps the cause and serializes details for logs', () => {
    const cause = new Error('socket hang up');
    const err = new TransientError(ErrorCodes.NYLAS_API_UNAVAILABLE, 'api 503', {
      cause,
      details: { status: 503 },
    });
    expect(err.cause).toBe(cause);
    expect(err.toJSON()).toEqual({
      name: 'TransientError',
      code: 'NYLAS_API_UNAVAILABLE',
      message: 'api 503',
      retriable: true,
      status: 503,
    });
  });

  it('ConfigError names the variable first', () => {
    const err = new ConfigError('INGRESS_PORT', 'expected an integer');
    expect(err.message).toBe('INGRESS_PORT: expected an integer');
    expect(err.variable).toBe('INGRESS_PORT');
  });
});
