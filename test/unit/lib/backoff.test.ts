import { cappedBackoff, retryStartupStep } from '../../../lib/backoff';
import { ErrorCodes, NylasStreamError, TransientError } from '../../../lib/errors';

const timeout = () => new TransientError(ErrorCodes.REGISTRY_UNAVAILABLE, 'Timeout (10000ms)');

describe('cappedBackoff', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([0, 1, 2, 5, 6, 40].map((a) => cappedBackoff(a, 500, 10_000))).toEqual([
      500, 1000, 2000, 10_000, 10_000, 10_000,
    ]);
  });
});

describe('retryStartupStep', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('retries a retriable failure after the backoff and returns what the step gave', async () => {
    const failures = [timeout(), timeout()];
    const retried: number[] = [];
    const step = jest.fn(async () => {
      const err = failures.shift();
      if (err) throw err;
      return 'ids';
    });
    const done = retryStartupStep(step, (_err, attempt) => retried.push(attempt));
    await jest.advanceTimersByTimeAsync(499);
    expect(step).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1 + 1000);
    await expect(done).resolves.toBe('ids');
    expect(step).toHaveBeenCalledTimes(3);
    expect(retried).toEqual([0, 1]);
  });

  it('throws a failure that is not retriable at once', async () => {
    const incompatible = new NylasStreamError(ErrorCodes.SCHEMA_INCOMPATIBLE, 'not compatible');
    const step = jest.fn(async () => {
      throw incompatible;
    });
    await expect(retryStartupStep(step)).rejects.toBe(incompatible);
    expect(step).toHaveBeenCalledTimes(1);
  });

  it('throws the tenth retriable failure', async () => {
    const step = jest.fn(async () => {
      throw timeout();
    });
    const done = retryStartupStep(step);
    const outcome = done.then(
      () => 'resolved',
      (err: unknown) => err,
    );
    await jest.advanceTimersByTimeAsync(10 * 10_000);
    expect(await outcome).toBeInstanceOf(TransientError);
    expect(step).toHaveBeenCalledTimes(10);
  });
});
