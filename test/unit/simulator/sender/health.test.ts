import { DestinationHealth } from '../../../../simulator/sender/health';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('destination health (§2.4)', () => {
  it('becomes failing only after 15 minutes at ≥95% failures, and recovers when answers come back', () => {
    const h = new DestinationHealth();
    for (let t = 0; t < 14 * MIN; t += MIN) expect(h.record(t, false)).toBe('active');
    expect(h.record(15 * MIN, false)).toBe('failing');
    for (let t = 16 * MIN; t < 40 * MIN; t += MIN) h.record(t, true);
    expect(h.status).toBe('active');
  });

  it('stays active below the 95% threshold', () => {
    const h = new DestinationHealth();
    for (let i = 0; i < 200; i++) h.record(i * 10_000, i % 10 !== 0); // 90% failures
    expect(h.status).toBe('active');
  });

  it('becomes failed after 72 hours of failing, and never recovers on its own', () => {
    const h = new DestinationHealth();
    let t = 0;
    for (; t <= 15 * MIN; t += MIN) h.record(t, false);
    expect(h.status).toBe('failing');
    for (; t < 15 * MIN + 72 * HOUR; t += 30 * MIN) expect(h.record(t, false)).toBe('failing');
    expect(h.record(t, false)).toBe('failed');
    for (let i = 0; i < 100; i++) h.record(t + i * MIN, true);
    expect(h.status).toBe('failed');
  });
});
