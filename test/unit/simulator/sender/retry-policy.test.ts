import {
  DEFAULT_RETRY_DELAYS_MS,
  judgeAttempt,
  MAX_ATTEMPTS,
  parseRetryAfterMs,
  RETRIED_STATUSES,
  retryDelayMs,
} from '../../../../simulator/sender/retry-policy';

describe('retry table (§2.3, §9 #1–#3)', () => {
  it('retries exactly 408, 429, 502, 503, 504, 507', () => {
    expect([...RETRIED_STATUSES].sort()).toEqual([408, 429, 502, 503, 504, 507]);
  });

  it.each([
    [200, 'delivered'],
    // other 2xx are not 200: strict by default (§9 #3), and not retried
    [201, 'give_up'],
    [202, 'give_up'],
    [204, 'give_up'],
    // 3xx: "other status codes", never followed (§2.3)
    [301, 'give_up'],
    [302, 'give_up'],
    [304, 'give_up'],
    [400, 'give_up'],
    [401, 'give_up'],
    [403, 'give_up'],
    [404, 'give_up'],
    [408, 'retry'],
    [410, 'give_up'],
    [413, 'give_up'],
    [429, 'retry'],
    [500, 'give_up'],
    [501, 'give_up'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
    [505, 'give_up'],
    [507, 'retry'],
    [508, 'give_up'],
  ] as const)('status %i → %s', (status, verdict) => {
    expect(judgeAttempt({ kind: 'response', status })).toBe(verdict);
  });

  it('timeouts and connection errors are retried', () => {
    expect(judgeAttempt({ kind: 'timeout' })).toBe('retry');
    expect(judgeAttempt({ kind: 'connection_error' })).toBe('retry');
  });

  it('the lenient mode accepts any 2xx', () => {
    expect(judgeAttempt({ kind: 'response', status: 204 }, { acceptAny2xx: true })).toBe('delivered');
    expect(judgeAttempt({ kind: 'response', status: 301 }, { acceptAny2xx: true })).toBe('give_up');
  });

  it('3 attempts, the last 10–20 minutes after the first with the default delays', () => {
    expect(MAX_ATTEMPTS).toBe(3);
    const total = DEFAULT_RETRY_DELAYS_MS.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(10 * 60_000);
    expect(total).toBeLessThanOrEqual(20 * 60_000);
  });

  it('waits max(backoff, Retry-After)', () => {
    expect(retryDelayMs(1, { delaysMs: [1000, 5000] })).toBe(1000);
    expect(retryDelayMs(2, { delaysMs: [1000, 5000] })).toBe(5000);
    expect(retryDelayMs(1, { delaysMs: [1000, 5000], retryAfterMs: 30_000 })).toBe(30_000);
    expect(retryDelayMs(1, { delaysMs: [1000, 5000], retryAfterMs: 10 })).toBe(1000);
    // jitter spreads the backoff symmetrically
    expect(retryDelayMs(1, { delaysMs: [1000], jitter: 0.2, unit: 0 })).toBe(800);
    expect(retryDelayMs(1, { delaysMs: [1000], jitter: 0.2, unit: 0.999999 })).toBe(1200);
  });

  it('parses Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfterMs('120', 0)).toBe(120_000);
    expect(parseRetryAfterMs(' 1.5 ', 0)).toBe(1500);
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfterMs('Tue, 31 Dec 2024 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined();
  });
});
