import { Assignment } from '../../../../processors/assignment/state';
import { FakeConsumer } from './fake-consumer';

interface Worker {
  name: string;
}

function setUp() {
  const consumer = new FakeConsumer();
  return { consumer, state: new Assignment<Worker>(consumer) };
}

/** Takes over every partition queued, as the takeover unit would (epoch checked at the end). */
function takeOverAll(state: Assignment<Worker>, offset = '0'): Worker[] {
  const started: Worker[] = [];
  for (const p of state.takePending()) {
    const w = { name: `w${p}` };
    state.activate(p, w, offset);
    started.push(w);
  }
  return started;
}

describe('assignment state machine', () => {
  it('pauses new partitions until their takeover seeks and resumes them', () => {
    const { consumer, state } = setUp();
    const change = state.assign([0, 1]);
    expect(change).toEqual({ revoked: [], kept: [], takeovers: [0, 1] });
    expect([...consumer.paused]).toEqual([0, 1]);
    expect(state.complete).toBe(false);
    for (const p of change.takeovers) state.request(p, state.epochOf(p));
    takeOverAll(state, '7');
    expect(consumer.paused.size).toBe(0);
    expect(consumer.calls).toContain('seek 0@7');
    expect(state.active).toEqual([0, 1]);
    expect(state.complete).toBe(true);
  });

  it('goes through assign → takeover → backpressure → revoke → reassign, fencing the stale takeover', () => {
    const { consumer, state } = setUp();
    state.assign([0, 1]);
    const epoch0 = state.epochOf(0);
    state.request(0, epoch0);
    state.request(1, state.epochOf(1));
    takeOverAll(state);

    // Backpressure on 1: paused until its worker drains, and a takeover pause beside it does not lift it.
    state.pause(1, 'backpressure');
    expect(consumer.paused.has(1)).toBe(true);

    // Partition 0 is revoked while its new takeover (started in epoch0+…) is under way, then given back.
    const revoked = state.assign([1]);
    expect(revoked.revoked).toEqual([{ partition: 0, worker: { name: 'w0' } }]);
    expect(revoked.kept).toEqual([{ partition: 1, worker: { name: 'w1' } }]);
    expect(consumer.paused.has(0)).toBe(false);
    // The kept partition's backpressure pause is applied again (a restarted consumer forgot it).
    expect(consumer.calls.at(-1)).toBe('pause 1');
    const staleEpoch = state.epochOf(0);
    const back = state.assign([0, 1]);
    expect(back.takeovers).toEqual([0]);
    expect(state.epochOf(0)).toBeGreaterThan(staleEpoch);
    // A takeover from before the revocation may neither queue nor install a worker.
    expect(state.request(0, staleEpoch)).toBe(false);
    expect(state.current(0, staleEpoch)).toBe(false);
    expect(state.current(0, state.epochOf(0))).toBe(true);

    state.unpause(1, 'backpressure');
    expect(consumer.paused.has(1)).toBe(false);
  });

  it('keeps a partition paused while any reason holds', () => {
    const { consumer, state } = setUp();
    state.assign([0]);
    state.pause(0, 'backpressure');
    state.unpause(0, 'backpressure');
    expect(consumer.paused.has(0)).toBe(true); // still taking over
    expect(state.describe(0).pauses).toEqual(['takeover']);
  });

  it('retakes the partition of a failed worker under a new epoch, dropping its queue pauses', () => {
    const { consumer, state } = setUp();
    state.assign([0]);
    state.request(0, state.epochOf(0));
    const [w] = takeOverAll(state);
    if (!w) throw new Error('no worker');
    state.pause(0, 'backpressure');
    state.pause(0, 'budget');
    const before = state.epochOf(0);
    expect(state.workerFailed(0, { name: 'someone else' })).toBe('stale');
    expect(state.workerFailed(0, w)).toBe('retake');
    expect(state.epochOf(0)).toBe(before + 1);
    expect(state.describe(0).pauses).toEqual(['takeover']);
    state.request(0, state.epochOf(0));
    takeOverAll(state);
    expect(consumer.paused.has(0)).toBe(false);
  });

  it('counts failed takeovers while the partition is still wanted, and forgets them on success or revoke', () => {
    const { state } = setUp();
    state.assign([0]);
    expect(state.takeoverFailed(0)).toBe(1);
    expect(state.takeoverFailed(0)).toBe(2);
    state.assign([]);
    expect(state.takeoverFailed(0)).toBeUndefined();
    state.assign([0]);
    expect(state.takeoverFailed(0)).toBe(1);
  });

  it('after close neither resumes nor queues, and pauses everything assigned', () => {
    const { consumer, state } = setUp();
    state.assign([0, 1]);
    state.request(0, state.epochOf(0));
    takeOverAll(state);
    state.close(true);
    expect(consumer.calls.at(-1)).toBe('pause 0,1');
    expect(state.request(1, state.epochOf(1))).toBe(false);
    state.unpause(1, 'takeover');
    expect(consumer.paused.has(1)).toBe(true);
    expect(state.takeWorkers()).toEqual([{ name: 'w0' }]);
    expect(state.active).toEqual([]);
  });
});
