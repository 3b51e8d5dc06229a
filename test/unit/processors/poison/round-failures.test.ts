import { classifyRoundFailure, RoundFailure } from '../../../../processors/poison/classify';
import { type FailedRound, RoundFailures } from '../../../../processors/poison/round-failures';

const offsets = (from: number, n: number) => Array.from({ length: n }, (_, i) => BigInt(from + i));

function round(kind: FailedRound['kind'], from: number, n: number, resumeFrom = BigInt(from)): FailedRound {
  return { kind, resumeFrom, offsets: offsets(from, n), takenThrough: BigInt(from + n) };
}

describe('RoundFailures', () => {
  const tracker = () => new RoundFailures({ maxAttempts: 3, backoffBaseMs: 100, backoffMaxMs: 1000 });

  it('retries transient failures for ever with a capped backoff, never isolating', () => {
    const t = tracker();
    const delays: number[] = [];
    for (let i = 0; i < 50; i++) delays.push(t.failed(0, round('transient', 10, 100)).delayMs);
    expect(delays.slice(0, 5)).toEqual([100, 200, 400, 800, 1000]);
    expect(Math.max(...delays)).toBe(1000);
    expect(t.plan(0)).toEqual({ quarantine: new Set() });
  });

  it('isolates after maxAttempts countable failures at one offset, then bisects to the culprit', () => {
    const t = tracker();
    // Records 10..109; the poison is offset 37. Simulate the worker: rounds of `limit` from `at`.
    const poison = 37n;
    let at = 10n;
    let failures = 0;
    let quarantined: string | undefined;
    for (let step = 0; step < 100 && quarantined === undefined; step++) {
      const plan = t.plan(0);
      const limit =
        plan.maxRecordsPerRound !== undefined && at < (plan.isolateUntil as bigint)
          ? plan.maxRecordsPerRound
          : 100;
      const end = at + BigInt(limit) > 110n ? 110n : at + BigInt(limit);
      if (poison >= at && poison < end) {
        failures++;
        const v = t.failed(0, {
          kind: 'countable',
          resumeFrom: at,
          offsets: offsets(Number(at), Number(end - at)),
          takenThrough: end,
        });
        quarantined = v.quarantined;
      } else {
        at = end;
        t.committed(0, at);
      }
    }
    expect(quarantined).toBe('37');
    expect(t.plan(0).quarantine).toEqual(new Set(['37']));
    // 3 whole-round attempts, then at most ~log2(100) + 1 narrowing failures.
    expect(failures).toBeLessThanOrEqual(3 + 8);
    // Committing past the culprit ends the isolation and forgets the partition.
    t.committed(0, 110n);
    expect(t.plan(0)).toEqual({ quarantine: new Set() });
    expect(t.attempts(0)).toBe(0);
  });

  it('starts counting again when the partition moved on, and does not count transient failures', () => {
    const t = tracker();
    t.failed(0, round('countable', 10, 5));
    t.failed(0, round('countable', 10, 5));
    t.failed(0, round('transient', 10, 5));
    expect(t.attempts(0)).toBe(2);
    t.committed(0, 12n);
    expect(t.attempts(0)).toBe(0);
    t.failed(0, round('countable', 12, 3));
    expect(t.attempts(0)).toBe(1);
    expect(t.plan(0).maxRecordsPerRound).toBeUndefined();
  });

  it('quarantines a lone record after maxAttempts without bisecting', () => {
    const t = tracker();
    expect(t.failed(0, round('countable', 5, 1)).quarantined).toBeUndefined();
    expect(t.failed(0, round('countable', 5, 1)).quarantined).toBeUndefined();
    expect(t.failed(0, round('countable', 5, 1)).quarantined).toBe('5');
  });

  it('never quarantines anything for a round that held no record', () => {
    const t = tracker();
    for (let i = 0; i < 10; i++) expect(t.failed(0, round('countable', 5, 0)).quarantined).toBeUndefined();
    expect(t.plan(0).quarantine.size).toBe(0);
  });

  it('keeps partitions apart and forgets a revoked one', () => {
    const t = tracker();
    for (let i = 0; i < 3; i++) t.failed(1, round('countable', 0, 8));
    expect(t.plan(1).maxRecordsPerRound).toBe(4);
    expect(t.plan(2).maxRecordsPerRound).toBeUndefined();
    t.forget(1);
    expect(t.plan(1).maxRecordsPerRound).toBeUndefined();
  });
});

describe('classifyRoundFailure', () => {
  const kafkaError = (name: string, retriable: boolean, originalError?: unknown) =>
    Object.assign(new Error(name), { name, retriable, ...(originalError ? { originalError } : {}) });

  it('blames the pipeline on the records, whatever the error', () => {
    expect(classifyRoundFailure(new RoundFailure('pipeline', [1n], 2n, new RangeError('x')))).toBe(
      'countable',
    );
    expect(
      classifyRoundFailure(
        new RoundFailure('pipeline', [1n], 2n, kafkaError('KafkaJSConnectionError', true)),
      ),
    ).toBe('countable');
  });

  it('calls a commit failure transient when the broker or connection is at fault', () => {
    const exhausted = kafkaError(
      'KafkaJSNumberOfRetriesExceeded',
      false,
      kafkaError('KafkaJSConnectionError', true),
    );
    expect(classifyRoundFailure(new RoundFailure('commit', [1n], 2n, exhausted))).toBe('transient');
    expect(classifyRoundFailure(kafkaError('KafkaJSRequestTimeoutError', false))).toBe('transient');
    expect(classifyRoundFailure(kafkaError('KafkaJSProtocolError', true))).toBe('transient');
  });

  it('counts a refused record (MESSAGE_TOO_LARGE) and plain exceptions in the commit', () => {
    const tooLarge = Object.assign(kafkaError('KafkaJSProtocolError', false), { type: 'MESSAGE_TOO_LARGE' });
    expect(classifyRoundFailure(new RoundFailure('commit', [1n], 2n, tooLarge))).toBe('countable');
    expect(classifyRoundFailure(new RoundFailure('commit', [1n], 2n, new TypeError('bug')))).toBe(
      'countable',
    );
  });
});
