/**
 * The replay plan: targets per option, records to reprocess/skip, and the printed table.
 */
import { OpsRefusal } from '../../../cli/ops/errors';
import {
  changedRows,
  formatPlan,
  type PartitionState,
  parseDatetime,
  planReplay,
  replayTargetFromOptions,
} from '../../../cli/ops/replay-plan';

const parts: PartitionState[] = [
  { topic: 't', partition: 1, committed: 40, low: 10, high: 50, atTimestamp: 20 },
  { topic: 't', partition: 0, committed: 100, low: 0, high: 100, atTimestamp: 100 },
  { topic: 't', partition: 2, committed: null, low: 0, high: 5, atTimestamp: 3 },
  { topic: 't', partition: 3, committed: 2, low: 8, high: 9, atTimestamp: 9 },
];

const rows = (target: Parameters<typeof planReplay>[2]) =>
  planReplay('g', parts, target).rows.map((r) => [r.partition, r.current, r.target, r.reprocess, r.skip]);

describe('planReplay', () => {
  it('--to-earliest goes to the log start; reprocess counts what was already read', () => {
    expect(rows({ kind: 'earliest' })).toEqual([
      [0, 100, 0, 100, 0],
      [1, 40, 10, 30, 0],
      [2, null, 0, 0, 0],
      // committed 2 is older than the log start 8: it reads from 8 anyway, nothing is re-read
      [3, 2, 8, 0, 0],
    ]);
  });
  it('--to-latest skips what was not read yet', () => {
    expect(rows({ kind: 'latest' })).toEqual([
      [0, 100, 100, 0, 0],
      [1, 40, 50, 0, 10],
      [2, null, 5, 0, 0],
      [3, 2, 9, 0, 1],
    ]);
  });
  it('--to-datetime uses the offsets for the time (the end when nothing is that recent)', () => {
    expect(rows({ kind: 'datetime', at: 0 })).toEqual([
      [0, 100, 100, 0, 0],
      [1, 40, 20, 20, 0],
      [2, null, 3, 0, 0],
      [3, 2, 9, 0, 1],
    ]);
  });
  it('--shift-by moves from the committed offset, clamped to the log', () => {
    expect(rows({ kind: 'shift', by: -35 })).toEqual([
      [0, 100, 65, 35, 0],
      [1, 40, 10, 30, 0],
      [2, null, 0, 0, 0],
      [3, 2, 8, 0, 0],
    ]);
  });
  it('changedRows is what --execute writes', () => {
    expect(changedRows(planReplay('g', parts, { kind: 'latest' })).map((r) => r.partition)).toEqual([
      1, 2, 3,
    ]);
  });
});

describe('formatPlan', () => {
  it('prints partition, current, target, records to reprocess and a total', () => {
    const lines = formatPlan(planReplay('nylas-stream-processor', parts, { kind: 'shift', by: -35 }));
    expect(lines[0]).toBe(
      'replay plan for group "nylas-stream-processor": move to -35 records from the committed offsets',
    );
    expect(lines[1]).toMatch(/^topic\s+partition\s+current\s+target\s+reprocess\s+skip$/);
    expect(lines[2]).toMatch(/^t\s+0\s+100\s+65\s+35\s+0$/);
    expect(lines[4]).toMatch(/^t\s+2\s+-\s+0\s+0\s+0$/);
    expect(lines[6]).toBe('total: 65 record(s) to reprocess, 0 to skip, 4 partition(s) change');
    expect(lines[7]).toContain('never committed');
  });
});

describe('replayTargetFromOptions', () => {
  it('takes exactly one target', () => {
    expect(replayTargetFromOptions({ toEarliest: true })).toEqual({ kind: 'earliest' });
    expect(replayTargetFromOptions({ toLatest: true })).toEqual({ kind: 'latest' });
    expect(replayTargetFromOptions({ shiftBy: '-500' })).toEqual({ kind: 'shift', by: -500 });
    expect(replayTargetFromOptions({ toDatetime: '2026-01-31T12:00:00Z' })).toEqual({
      kind: 'datetime',
      at: Date.UTC(2026, 0, 31, 12),
    });
    expect(() => replayTargetFromOptions({})).toThrow(OpsRefusal);
    expect(() => replayTargetFromOptions({ toEarliest: true, shiftBy: '1' })).toThrow(/exactly one/);
    expect(() => replayTargetFromOptions({ shiftBy: 'ten' })).toThrow(/signed number/);
  });
  it('parses datetimes: ISO (UTC when unzoned), offsets, epoch ms, durations ago', () => {
    const now = Date.UTC(2026, 5, 1, 12);
    expect(parseDatetime('2026-06-01T10:00:00', now)).toBe(Date.UTC(2026, 5, 1, 10));
    expect(parseDatetime('2026-06-01T10:00:00+02:00', now)).toBe(Date.UTC(2026, 5, 1, 8));
    expect(parseDatetime('2026-06-01', now)).toBe(Date.UTC(2026, 5, 1));
    expect(parseDatetime('1780315200000', now)).toBe(1780315200000);
    expect(parseDatetime('2h', now)).toBe(now - 7_200_000);
    expect(() => parseDatetime('yesterday', now)).toThrow(/ISO-8601/);
  });
});
