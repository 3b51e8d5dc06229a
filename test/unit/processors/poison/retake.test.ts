import { RoundFailure } from '../../../../processors/poison/classify';
import { planRetake } from '../../../../processors/poison/retake';
import { RoundFailures } from '../../../../processors/poison/round-failures';

const SESSION_MS = 30_000;
const tracker = () => new RoundFailures({ maxAttempts: 2, backoffBaseMs: 100, backoffMaxMs: 1000 });

function pipelineFailure(from: number, n: number): RoundFailure {
  const offsets = Array.from({ length: n }, (_, i) => BigInt(from + i));
  return new RoundFailure('pipeline', offsets, BigInt(from + n), new Error('a stage threw'));
}

describe('planRetake (after a worker failed)', () => {
  it('waits half a session for a fenced partition, counting nothing', () => {
    const failures = tracker();
    const plan = planRetake(
      { err: new Error('fenced'), partition: 0, committedNext: 5n, fenced: true },
      failures,
      SESSION_MS,
    );
    expect(plan).toEqual({ delayMs: SESSION_MS / 2 });
    expect(failures.attempts(0)).toBe(0);
  });

  it('backs off a failed round, then narrows the rounds once it keeps failing at one offset', () => {
    const failures = tracker();
    const failed = () =>
      planRetake(
        { err: pipelineFailure(10, 8), partition: 0, committedNext: 10n, fenced: false },
        failures,
        SESSION_MS,
      );
    const first = failed();
    expect(first).toMatchObject({
      delayMs: 100,
      kind: 'countable',
      log: {
        fields: { partition: 0, kind: 'countable', resumeFrom: '10', attempts: 1, retryInMs: 100 },
        message: 'partition transaction failed; aborting and taking over again',
      },
    });
    const second = failed();
    expect(second.delayMs).toBe(200);
    expect(second.log?.message).toBe(
      'rounds keep failing at this offset: narrowing them to isolate the record',
    );
    expect(second.log?.fields).toHaveProperty('isolating');
  });

  it('says when the culprit is found (a one-record round failed)', () => {
    const failures = tracker();
    let plan = planRetake(
      { err: pipelineFailure(10, 1), partition: 0, committedNext: 10n, fenced: false },
      failures,
      SESSION_MS,
    );
    plan = planRetake(
      { err: pipelineFailure(10, 1), partition: 0, committedNext: 10n, fenced: false },
      failures,
      SESSION_MS,
    );
    expect(plan.log?.message).toBe('a record failed alone: it will be dead-lettered as POISON_ISOLATED');
    expect(plan.log?.fields).toMatchObject({ quarantined: '10' });
  });
});
