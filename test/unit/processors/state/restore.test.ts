import { restorePlan } from '../../../../processors/state/restore';

describe('restorePlan: where a store restores from', () => {
  it('a store with no checkpoint (new disk, damaged store) restores the whole partition', () => {
    expect(restorePlan(undefined, 0n, 10n)).toEqual({ mode: 'full', from: 0n });
    expect(restorePlan(undefined, 4n, 10n)).toEqual({ mode: 'full', from: 4n });
  });

  it('a checkpoint within the log restores only the tail from it, bounds included', () => {
    expect(restorePlan(7n, 4n, 10n)).toEqual({ mode: 'tail', from: 7n });
    expect(restorePlan(4n, 4n, 10n)).toEqual({ mode: 'tail', from: 4n });
    // Up to date: nothing to read.
    expect(restorePlan(10n, 4n, 10n)).toEqual({ mode: 'tail', from: 10n });
    expect(restorePlan(0n, 0n, 0n)).toEqual({ mode: 'tail', from: 0n });
  });

  it('a checkpoint before the log start (records deleted) cannot be trusted: full restore', () => {
    expect(restorePlan(3n, 4n, 10n)).toEqual({ mode: 'full', from: 4n });
  });

  it('a checkpoint past the log end (the topic was recreated) cannot be trusted: full restore', () => {
    expect(restorePlan(11n, 4n, 10n)).toEqual({ mode: 'full', from: 4n });
    expect(restorePlan(500n, 0n, 0n)).toEqual({ mode: 'full', from: 0n });
  });
});
