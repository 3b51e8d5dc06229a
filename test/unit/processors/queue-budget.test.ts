import { type BudgetShare, QueueBudget } from '../../../processors/queue-budget';

/** A share whose pauses and resumes are recorded, as the processor's Assignment would apply them. */
function member(budget: QueueBudget) {
  const calls: Array<'pause' | 'resume'> = [];
  const share: BudgetShare = budget.join({
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
  });
  return { share, calls };
}

describe('queue budget (PROCESSOR_MAX_QUEUED_BYTES_TOTAL)', () => {
  it('pauses the partition holding the most once the process is at the budget, and no other', () => {
    let pauses = 0;
    const budget = new QueueBudget(1000, () => pauses++);
    const busy = member(budget);
    const idle = member(budget);
    busy.share.update(900);
    expect(busy.calls).toEqual([]);
    busy.share.update(1000);
    expect(busy.share.paused).toBe(true);
    expect(busy.calls).toEqual(['pause']);
    expect(pauses).toBe(1);
    // The idle partition, over budget as the process is, still fetches: it holds less than its share.
    expect(idle.share.paused).toBe(false);
    idle.share.update(300);
    expect(idle.share.paused).toBe(false);
    expect(idle.calls).toEqual([]);
    expect(budget.queuedBytes).toBe(1300);
    // Once it holds its share too (500 of 1000 between two), it pauses as well.
    idle.share.update(500);
    expect(idle.calls).toEqual(['pause']);
  });

  it('resumes a paused partition when the others drain the process under half the budget', () => {
    const budget = new QueueBudget(1000);
    const a = member(budget);
    const b = member(budget);
    b.share.update(400);
    a.share.update(700);
    expect(a.calls).toEqual(['pause']);
    // a holds all it held (its round is slow); b drains: the process total falls under half the budget.
    b.share.update(200);
    expect(a.calls).toEqual(['pause']);
    b.share.update(0);
    expect(a.share.paused).toBe(true);
    a.share.update(499);
    expect(a.calls).toEqual(['pause', 'resume']);
    expect(a.share.paused).toBe(false);
  });

  it('resumes a partition that drained under half its share while the others still hold the budget', () => {
    const budget = new QueueBudget(1000);
    const a = member(budget);
    const b = member(budget);
    a.share.update(600);
    b.share.update(500);
    expect(a.calls).toEqual(['pause']);
    expect(b.calls).toEqual(['pause']);
    a.share.update(300);
    expect(a.calls).toEqual(['pause']);
    a.share.update(249);
    expect(a.calls).toEqual(['pause', 'resume']);
    expect(b.calls).toEqual(['pause']);
  });

  it('lets a partition that holds nothing fetch whatever the others hold', () => {
    const budget = new QueueBudget(1000);
    const hog = member(budget);
    const others = [member(budget), member(budget), member(budget)];
    hog.share.update(50_000);
    expect(hog.share.paused).toBe(true);
    for (const o of others) {
      expect(o.share.paused).toBe(false);
      // One fetched batch larger than the share: taken, and only then paused.
      o.share.update(400);
      expect(o.calls).toEqual(['pause']);
    }
  });

  it('drops the bytes of a released share without resuming it, and rebalances the others', () => {
    const budget = new QueueBudget(1000);
    const a = member(budget);
    const b = member(budget);
    a.share.update(800);
    b.share.update(600);
    expect(b.calls).toEqual(['pause']);
    a.share.release();
    expect(budget.queuedBytes).toBe(600);
    // b is alone now: its share is the whole budget, and the process is under it.
    a.share.update(10_000);
    expect(budget.queuedBytes).toBe(600);
    expect(a.calls).toEqual(['pause']);
    b.share.update(400);
    expect(b.calls).toEqual(['pause', 'resume']);
  });
});
