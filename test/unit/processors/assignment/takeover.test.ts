import { cappedBackoff } from '../../../../lib/backoff';
import { silentLogger } from '../../../../lib/logger';
import { Assignment } from '../../../../processors/assignment/state';
import {
  type Restored,
  TAKEOVER_BACKOFF,
  type TakeoverSteps,
  Takeovers,
} from '../../../../processors/assignment/takeover';
import { FakeConsumer } from './fake-consumer';

interface Producer {
  partition: number;
  released: boolean;
}
interface Worker {
  partition: number;
  start: bigint;
}

const TIMEOUT_MS = 1000;

/** Steps that record their order; `hold` makes a step wait until released. */
class FakeSteps implements TakeoverSteps<Producer, string, Worker> {
  readonly log: string[] = [];
  readonly producers: Producer[] = [];
  committed = new Map<number, bigint>();
  starts = new Map<number, bigint>();
  /** Steps that hang (never settle) on their next call. */
  hangOnce = new Set<string>();
  private readonly held = new Map<string, () => void>();

  private async step(name: string): Promise<void> {
    this.log.push(name);
    if (this.hangOnce.delete(name)) await new Promise(() => undefined);
    const hold = this.held.get(name);
    if (hold) await new Promise<void>((resolve) => this.held.set(name, resolve));
  }

  hold(name: string): void {
    this.held.set(name, () => undefined);
  }

  release(name: string): void;
  release(producer: Producer): Promise<void>;
  release(what: string | Producer): Promise<void> | undefined {
    if (typeof what === 'string') {
      const resolve = this.held.get(what);
      this.held.delete(what);
      resolve?.();
      return undefined;
    }
    what.released = true;
    this.log.push(`release ${what.partition}`);
    return Promise.resolve();
  }

  async fence(partition: number): Promise<Producer> {
    await this.step(`fence ${partition}`);
    const p = { partition, released: false };
    this.producers.push(p);
    return p;
  }

  async committedOffsets(): Promise<Map<number, bigint>> {
    await this.step('committed');
    return this.committed;
  }

  async logStartOffsets(): Promise<Map<number, bigint>> {
    await this.step('log start');
    return this.starts;
  }

  async restore(partitions: number[]): Promise<Restored<string>> {
    await this.step(`restore ${partitions.join(',')}`);
    return {
      stores: new Map(partitions.map((p) => [p, `store${p}`])),
      modes: new Map(partitions.map((p) => [p, 'tail' as const])),
      records: 0,
      entries: 0,
      seconds: 0,
    };
  }

  async discard(partition: number): Promise<void> {
    this.log.push(`discard ${partition}`);
  }

  begin(partition: number, producer: Producer, store: string, start: bigint): Worker {
    this.log.push(`begin ${partition} ${store} @${start} (producer ${producer.partition})`);
    return { partition, start };
  }
}

function setUp() {
  const consumer = new FakeConsumer();
  const assignment = new Assignment<Worker>(consumer);
  const steps = new FakeSteps();
  const restored: Array<Restored<unknown>> = [];
  const takeovers = new Takeovers({
    assignment,
    steps,
    timeoutMs: TIMEOUT_MS,
    log: silentLogger(),
    onRestored: (r) => restored.push(r),
  });
  const assign = (partitions: number[]) => {
    for (const p of assignment.assign(partitions).takeovers) takeovers.schedule(p, 0);
  };
  return { consumer, assignment, steps, takeovers, assign, restored };
}

/** Runs what is due, including a takeover's own setImmediate, and waits for the takeover in flight. */
async function settle(takeovers: Takeovers<Producer, string, Worker>, ms = 1): Promise<void> {
  await jest.advanceTimersByTimeAsync(ms);
  await takeovers.idle();
}

/** The steps of a successful takeover of partition 0 resuming at `offset`. */
const takeoverOf0 = (offset: number) => [
  'fence 0',
  'committed',
  'restore 0',
  `begin 0 store0 @${offset} (producer 0)`,
];

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('takeover unit', () => {
  it('fences, reads where to resume, restores, then starts the workers, all partitions together', async () => {
    const { consumer, assignment, steps, takeovers, assign, restored } = setUp();
    steps.committed.set(0, 42n).set(1, -1n);
    steps.starts.set(0, 5n).set(1, 3n);
    assign([0, 1]);
    await jest.advanceTimersByTimeAsync(0);
    await takeovers.idle();
    expect(steps.log).toEqual([
      'fence 0',
      'fence 1',
      'committed',
      'log start', // partition 1 has no committed offset: it starts at the log start
      'restore 0,1',
      'begin 0 store0 @42 (producer 0)',
      'begin 1 store1 @3 (producer 1)',
    ]);
    expect(restored).toEqual([expect.objectContaining({ records: 0, entries: 0, seconds: 0 })]);
    expect([...(restored[0]?.modes.keys() ?? [])]).toEqual([0, 1]);
    expect(assignment.active).toEqual([0, 1]);
    expect(consumer.calls).toEqual(expect.arrayContaining(['seek 0@42', 'seek 1@3']));
    expect(consumer.paused.size).toBe(0);
  });

  it('does not read the log start when every partition has a committed offset', async () => {
    const { steps, takeovers, assign } = setUp();
    steps.committed.set(0, 1n);
    assign([0]);
    await jest.advanceTimersByTimeAsync(0);
    await takeovers.idle();
    expect(steps.log).not.toContain('log start');
  });

  it('fails a step that hangs past the bound, releases what it fenced and retries after the backoff', async () => {
    const { assignment, steps, takeovers, assign } = setUp();
    steps.committed.set(0, 9n);
    steps.hangOnce.add('committed');
    assign([0]);
    await settle(takeovers, TIMEOUT_MS);
    expect(steps.log).toEqual(['fence 0', 'committed', 'release 0']);
    expect(assignment.describe(0).takeoverFailures).toBe(1);

    const delay = cappedBackoff(1, TAKEOVER_BACKOFF.baseMs, TAKEOVER_BACKOFF.maxMs);
    await jest.advanceTimersByTimeAsync(delay - 1);
    expect(steps.log.filter((s) => s === 'fence 0')).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    await settle(takeovers);
    expect(steps.log.slice(3)).toEqual(takeoverOf0(9));
    expect(assignment.active).toEqual([0]);
    expect(assignment.describe(0).takeoverFailures).toBe(0);
  });

  it('abandons a takeover whose partition was revoked and given back meanwhile (stale epoch)', async () => {
    const { assignment, steps, takeovers, assign } = setUp();
    steps.committed.set(0, 1n);
    steps.hold('restore 0');
    assign([0]);
    await jest.advanceTimersByTimeAsync(0);
    expect(steps.log).toEqual(['fence 0', 'committed', 'restore 0']);
    assign([]);
    assign([0]); // a new epoch: its own takeover is queued behind the one in flight
    steps.release('restore 0');
    await settle(takeovers);
    await settle(takeovers);
    // The first takeover's producer is released, not used; the second one starts the worker.
    expect(steps.log.slice(3)).toEqual(['release 0', ...takeoverOf0(1)]);
    expect(steps.producers[0]?.released).toBe(true);
    expect(assignment.active).toEqual([0]);
  });

  it('lets go of the restored store of a partition revoked during the restore', async () => {
    const { assignment, steps, takeovers, assign } = setUp();
    steps.committed.set(0, 1n).set(1, 1n);
    steps.hold('restore 0,1');
    assign([0, 1]);
    await jest.advanceTimersByTimeAsync(0);
    assign([1]);
    steps.release('restore 0,1');
    await settle(takeovers);
    expect(steps.log.slice(4)).toEqual(['release 0', 'discard 0', 'begin 1 store1 @1 (producer 1)']);
    expect(assignment.active).toEqual([1]);
  });

  it('drops scheduled retries once closed', async () => {
    const { steps, takeovers, assignment } = setUp();
    assignment.assign([0]);
    takeovers.schedule(0, 100);
    takeovers.close();
    await jest.advanceTimersByTimeAsync(200);
    expect(steps.log).toEqual([]);
  });
});
