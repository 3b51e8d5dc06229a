import { RejoinWatchdog } from '../../../processors/rejoin-watchdog';

describe('RejoinWatchdog', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('fires when a crash is not followed by a join within the bound', () => {
    const stuck = jest.fn();
    const w = new RejoinWatchdog(1000, stuck);
    w.crashed();
    jest.advanceTimersByTime(999);
    expect(stuck).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(stuck).toHaveBeenCalledTimes(1);
    expect(w.armed).toBe(false);
  });

  it('does not fire when the consumer joins in time', () => {
    const stuck = jest.fn();
    const w = new RejoinWatchdog(1000, stuck);
    w.crashed();
    jest.advanceTimersByTime(900);
    w.joined();
    jest.advanceTimersByTime(10_000);
    expect(stuck).not.toHaveBeenCalled();
  });

  it('counts the bound from the last crash: a restart loop that keeps crashing is alive', () => {
    const stuck = jest.fn();
    const w = new RejoinWatchdog(1000, stuck);
    for (let i = 0; i < 5; i++) {
      w.crashed();
      jest.advanceTimersByTime(800);
    }
    expect(stuck).not.toHaveBeenCalled();
    jest.advanceTimersByTime(200);
    expect(stuck).toHaveBeenCalledTimes(1);
  });

  it('never fires once closed', () => {
    const stuck = jest.fn();
    const w = new RejoinWatchdog(1000, stuck);
    w.crashed();
    w.close();
    w.crashed();
    jest.advanceTimersByTime(5000);
    expect(stuck).not.toHaveBeenCalled();
  });
});
