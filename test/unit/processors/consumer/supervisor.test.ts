import { silentLogger } from '../../../../lib/logger';
import {
  type ConsumerEvents,
  ConsumerSupervisor,
  REPLACEMENT_BACKOFF,
  type SupervisedConsumer,
} from '../../../../processors/consumer/supervisor';

const REJOIN_MS = 5000;
const START_MS = 2000;

/** A consumer whose start succeeds, fails or hangs as told, and whose events the test raises. */
class FakeConsumer implements SupervisedConsumer {
  disconnected = false;
  readonly calls: string[] = [];
  constructor(
    readonly id: number,
    readonly events: ConsumerEvents,
    private readonly starts: 'ok' | 'fail' | 'hang',
  ) {}
  async start(): Promise<void> {
    if (this.starts === 'fail') throw new Error('broker away');
    if (this.starts === 'hang') await new Promise(() => undefined);
  }
  async disconnect(): Promise<void> {
    this.disconnected = true;
  }
  pause(partitions: number[]): void {
    if (this.starts === 'fail') throw new Error('Consumer group was not initialized');
    this.calls.push(`pause ${partitions.join(',')}`);
  }
  resume(partitions: number[]): void {
    this.calls.push(`resume ${partitions.join(',')}`);
  }
  seek(partition: number, offset: string): void {
    this.calls.push(`seek ${partition}@${offset}`);
  }
}

function setUp(plan: Array<'ok' | 'fail' | 'hang'>) {
  const consumers: FakeConsumer[] = [];
  const assignments: number[][] = [];
  const fatal: unknown[] = [];
  let stuck = 0;
  const supervisor = new ConsumerSupervisor({
    create: (events) => {
      const c = new FakeConsumer(consumers.length, events, plan[consumers.length] ?? 'ok');
      consumers.push(c);
      return c;
    },
    onAssignment: (p) => assignments.push(p),
    onBatch: async () => undefined,
    onFatal: (err) => fatal.push(err),
    onStuck: () => stuck++,
    rejoinTimeoutMs: REJOIN_MS,
    startTimeoutMs: START_MS,
    log: silentLogger(),
  });
  return { supervisor, consumers, assignments, fatal, stuck: () => stuck };
}

function at(consumers: FakeConsumer[], i: number): FakeConsumer {
  const c = consumers[i];
  if (!c) throw new Error(`no consumer #${i}`);
  return c;
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

describe('consumer supervisor', () => {
  it('replaces a consumer that crashed restartably, after the backoff, and forwards the new assignment', async () => {
    const { supervisor, consumers, assignments } = setUp(['ok', 'ok']);
    await supervisor.start();
    at(consumers, 0).events.joined([0, 1]);
    at(consumers, 0).events.crashed(new Error('lost the coordinator'), true);
    await jest.advanceTimersByTimeAsync(REPLACEMENT_BACKOFF.baseMs - 1);
    expect(consumers).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(at(consumers, 0).disconnected).toBe(true);
    expect(consumers).toHaveLength(2);
    expect(supervisor.describe().watchdogArmed).toBe(true);
    at(consumers, 1).events.joined([1]);
    expect(supervisor.describe().watchdogArmed).toBe(false);
    expect(assignments).toEqual([[0, 1], [1]]);
  });

  it('ends the processor on a crash kafkajs would not have restarted from', async () => {
    const { supervisor, consumers, fatal } = setUp(['ok']);
    await supervisor.start();
    const err = new Error('not retriable');
    at(consumers, 0).events.crashed(err, false);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(fatal).toEqual([err]);
    expect(consumers).toHaveLength(1);
  });

  it('retries a replacement that fails to start, later each time', async () => {
    const { supervisor, consumers } = setUp(['ok', 'fail', 'fail', 'ok']);
    await supervisor.start();
    at(consumers, 0).events.crashed(new Error('x'), true);
    await jest.advanceTimersByTimeAsync(REPLACEMENT_BACKOFF.baseMs); // #1 fails
    expect(consumers).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(REPLACEMENT_BACKOFF.baseMs * 2 - 1);
    expect(consumers).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1); // #2 fails
    expect(consumers).toHaveLength(3);
    await jest.advanceTimersByTimeAsync(REPLACEMENT_BACKOFF.baseMs * 4 - 1);
    expect(consumers).toHaveLength(3);
    await jest.advanceTimersByTimeAsync(1); // #3 starts
    expect(consumers).toHaveLength(4);
    expect(supervisor.describe()).toMatchObject({ consumer: true, replacingConsumer: false });
  });

  it('replaces a replacement that does not join within the rejoin bound (the watchdog)', async () => {
    const { supervisor, consumers, stuck } = setUp(['ok', 'ok', 'ok']);
    await supervisor.start();
    at(consumers, 0).events.crashed(new Error('x'), true);
    await jest.advanceTimersByTimeAsync(REPLACEMENT_BACKOFF.baseMs);
    expect(consumers).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(REJOIN_MS);
    expect(stuck()).toBe(1);
    expect(consumers).toHaveLength(3);
    expect(at(consumers, 1).disconnected).toBe(true);
  });

  it('fails a replacement whose start hangs past the bound and tries again', async () => {
    const { supervisor, consumers } = setUp(['ok', 'hang', 'ok']);
    await supervisor.start();
    at(consumers, 0).events.crashed(new Error('x'), true);
    await jest.advanceTimersByTimeAsync(REPLACEMENT_BACKOFF.baseMs + START_MS);
    expect(consumers).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(REPLACEMENT_BACKOFF.baseMs * 2);
    expect(consumers).toHaveLength(3);
  });

  it('disconnects a replaced consumer that joins late and ignores its events', async () => {
    const { supervisor, consumers, assignments } = setUp(['ok', 'ok']);
    await supervisor.start();
    await supervisor.replace('stuck');
    const old = at(consumers, 0);
    old.disconnected = false;
    old.events.joined([0]);
    expect(old.disconnected).toBe(true);
    expect(assignments).toEqual([]);
  });

  it('does not throw from pause, resume or seek while the consumer is not running', async () => {
    const { supervisor, consumers } = setUp(['fail']);
    await expect(supervisor.start()).rejects.toThrow('broker away');
    expect(() => supervisor.pause([0])).not.toThrow();
    supervisor.seek(0, '5');
    expect(at(consumers, 0).calls).toEqual(['seek 0@5']);
  });

  it('after close, neither replaces nor reports', async () => {
    const { supervisor, consumers } = setUp(['ok']);
    await supervisor.start();
    supervisor.close();
    at(consumers, 0).events.crashed(new Error('x'), true);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(consumers).toHaveLength(1);
    await supervisor.disconnect();
    expect(at(consumers, 0).disconnected).toBe(true);
  });
});
