import { silentLogger } from '../../../lib/logger';
import { type LagReading, LagSampler } from '../../../processors/lag-sampler';

const STALL_MS = 10_000;

function setUp(read: () => Promise<LagReading>, assigned: number[] = [0]) {
  let now = 1_000_000;
  const progress: Array<[number, number, number]> = [];
  const described: number[] = [];
  const sampler = new LagSampler({
    read,
    assigned: () => assigned,
    describe: (p) => {
      described.push(p);
      return { partition: p };
    },
    progress: (p, lag, stalled) => progress.push([p, lag, stalled]),
    intervalMs: 1000,
    stallTimeoutMs: STALL_MS,
    log: silentLogger(),
    clock: () => now,
  });
  return { sampler, progress, described, advance: (ms: number) => (now += ms) };
}

const reading = (committed: bigint, high: bigint): LagReading => ({
  committed: new Map([[0, committed]]),
  ends: [
    { partition: 0, low: 0n, high },
    { partition: 1, low: 0n, high: 99n }, // not assigned here: ignored
  ],
});

describe('lag sampler', () => {
  it('reports lag, then a stall once the committed offset stops moving while records wait', async () => {
    const { sampler, progress, described, advance } = setUp(async () => reading(5n, 8n));
    sampler.start();
    await sampler.sample();
    advance(STALL_MS);
    await sampler.sample();
    sampler.close();
    expect(progress).toEqual([
      [0, 3, 0],
      [0, 3, STALL_MS / 1000],
    ]);
    expect(sampler.live).toBe(false);
    expect(sampler.longestStall).toBe(STALL_MS / 1000);
    expect(described).toEqual([0]);
  });

  it('counts being unable to read as a stall (blind is not live)', async () => {
    const { sampler, advance } = setUp(async () => {
      throw new Error('broker away');
    });
    sampler.start();
    sampler.close();
    advance(STALL_MS + 1);
    await sampler.sample();
    expect(sampler.live).toBe(false);
  });

  it('is live with nothing assigned', async () => {
    const { sampler, progress } = setUp(async () => reading(0n, 100n), []);
    await sampler.sample();
    expect(sampler.live).toBe(true);
    expect(progress).toEqual([]);
  });
});
