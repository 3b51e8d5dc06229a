import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { ExpansionCache } from '../../../processors/deferral/expansion-cache';
import {
  approximateBytes,
  ExpansionBudget,
  type ExpansionHold,
  expansionBudgetBytes,
} from '../../../processors/expansion-budget';
import { decode } from '../../../processors/stages/decode';
import { Expander } from '../../../processors/stages/expand';
import type { Notification } from '../../../processors/types';
import { messageNotification, rawRecord } from '../../helpers/raw-notifications';

const tick = () => new Promise((r) => setImmediate(r));

/** admit() calls in order (lanes by index unless given), each recording its hold once admitted. */
function admitAll(budget: ExpansionBudget, n: number, lane?: string) {
  const holds: Array<ExpansionHold | undefined> = Array.from({ length: n }, () => undefined);
  for (let i = 0; i < n; i++)
    void budget.admit(lane ?? `0/lane-${i}`).then((h) => {
      holds[i] = h;
    });
  return holds;
}

describe('expansion budget (EXPANSION_MAX_HELD_BYTES)', () => {
  it('starts expansions while their reservations fit, and the next one when one gives room back', async () => {
    const budget = new ExpansionBudget(100, 40);
    const holds = admitAll(budget, 4);
    await tick();
    expect(holds.map((h) => h !== undefined)).toEqual([true, true, false, false]);
    expect(budget.heldBytes).toBe(80);
    expect(budget.waitingCalls).toBe(2);
    // The first body is 5 bytes: 45 held, room for one more reservation (85), not two.
    holds[0]?.settle(5);
    await tick();
    expect(holds.map((h) => h !== undefined)).toEqual([true, true, true, false]);
    expect(budget.heldBytes).toBe(85);
    // Released (its round committed): 80 held, two running; the last still does not fit.
    holds[0]?.release();
    await tick();
    expect(budget.heldBytes).toBe(80);
    expect(holds[3]).toBeUndefined();
    holds[1]?.settle(5);
    await tick();
    expect(holds[3]).toBeDefined();
    expect(budget.heldBytes).toBe(85);
    expect(budget.waitingCalls).toBe(0);
  });

  it('serves waiting expansions first come, first served: a later one does not overtake', async () => {
    const budget = new ExpansionBudget(100, 60);
    const first = admitAll(budget, 1);
    await tick();
    const order: string[] = [];
    void budget.admit('0/b').then(() => order.push('second'));
    void budget.admit('0/c').then(() => order.push('third'));
    await tick();
    expect(order).toEqual([]);
    first[0]?.release();
    await tick();
    // 60 + 60 > 100: the second starts alone, the third waits behind it.
    expect(order).toEqual(['second']);
  });

  it('waits while a body held can still be released by a commit, even with nothing running', async () => {
    const budget = new ExpansionBudget(100, 40);
    const b = await budget.admit('0/b');
    const a = await budget.admit('0/a');
    b.settle(50);
    a.settle(45);
    // Lane a waits for one more expansion; lane b's body only for its round to commit.
    const next = admitAll(budget, 1, '0/a');
    await tick();
    expect(next[0]).toBeUndefined();
    b.release();
    await tick();
    expect(next[0]).toBeDefined();
  });

  it('starts one expansion beyond the budget when every body held waits for an expansion not yet admitted', async () => {
    // The deadlock this prevents: a lane is handed back to its partition only once each of its expansions
    // has settled, so bodies held for lanes that wait for one more would never be released.
    const budget = new ExpansionBudget(100, 40);
    const a = await budget.admit('0/a');
    const b = await budget.admit('1/b');
    a.settle(50);
    b.settle(45);
    const nextA = admitAll(budget, 1, '0/a');
    const nextB = admitAll(budget, 1, '1/b');
    await tick();
    expect([nextA[0] !== undefined, nextB[0] !== undefined]).toEqual([true, false]);
    expect(budget.heldBytes).toBe(135);
    // Lane a now has every body: its commit, not another expansion, frees room, so b still waits.
    nextA[0]?.settle(1);
    await tick();
    expect(nextB[0]).toBeUndefined();
    a.release();
    nextA[0]?.release();
    await tick();
    expect(nextB[0]).toBeDefined();
  });

  it('gives back a failed expansion and a released body once, however often they are released', async () => {
    const budget = new ExpansionBudget(100, 40);
    const holds = admitAll(budget, 2);
    await tick();
    holds[0]?.release();
    holds[0]?.release();
    holds[0]?.settle(30); // too late: released
    holds[1]?.settle(10);
    holds[1]?.settle(99); // settled once
    expect(budget.heldBytes).toBe(10);
    holds[1]?.release();
    holds[1]?.release();
    expect(budget.heldBytes).toBe(0);
  });

  it('ends a wait whose signal aborts: it leaves the queue, rejects with the reason, and the next moves up', async () => {
    const budget = new ExpansionBudget(100, 60);
    const first = admitAll(budget, 1);
    await tick();
    const gone = new AbortController();
    const cancelled = budget.admit('0/b', [gone.signal]);
    const order: string[] = [];
    void budget.admit('0/c').then(() => order.push('third'));
    await tick();
    expect(budget.waitingCalls).toBe(2);
    gone.abort(new Error('partition 0 dropped'));
    await expect(cancelled).rejects.toThrow('partition 0 dropped');
    expect(budget.waitingCalls).toBe(1);
    expect(budget.heldBytes).toBe(60);
    first[0]?.release();
    await tick();
    expect(order).toEqual(['third']);
    expect(budget.heldBytes).toBe(60);
    // Aborting again after the wait ended changes nothing.
    gone.abort();
    expect(budget.heldBytes).toBe(60);
  });

  it('refuses at once, reserving nothing, a wait whose signal has already aborted', async () => {
    const budget = new ExpansionBudget(100, 60);
    const gone = new AbortController();
    gone.abort(new Error('already gone'));
    await expect(budget.admit('0/a', [gone.signal])).rejects.toThrow('already gone');
    expect(budget.heldBytes).toBe(0);
    expect(budget.waitingCalls).toBe(0);
  });

  it('never waits for itself, and goes over the budget only by one expansion at a time', async () => {
    const lanes = ['0/a', '0/b', '1/a'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(3), fc.nat(2), fc.nat(40)), { maxLength: 120 }),
        fc.integer({ min: 40, max: 300 }),
        async (steps, max) => {
          const budget = new ExpansionBudget(max, 40);
          const running: Array<{ lane: string; hold: ExpansionHold }> = [];
          const settled: Array<{ lane: string; hold: ExpansionHold }> = [];
          const waiting: string[] = [];
          for (const [op, laneIndex, bytes] of steps) {
            const lane = lanes[laneIndex] as string;
            if (op === 0) {
              waiting.push(lane);
              void budget.admit(lane).then((hold) => {
                waiting.splice(waiting.indexOf(lane), 1);
                running.push({ lane, hold });
              });
            } else if (op === 1 && running.length > 0) {
              const r = running.shift() as { lane: string; hold: ExpansionHold };
              r.hold.settle(bytes); // bodies no larger than the reservation
              settled.push(r);
            } else if (op === 2 && settled.length > 0) {
              (settled.shift() as { hold: ExpansionHold }).hold.release(); // a round committed
            } else if (running.length > 0) {
              (running.pop() as { hold: ExpansionHold }).hold.release(); // ended without a body
            }
            await tick();
            // Stuck: nothing running and every body held waits for a waiting lane. Then nobody may wait.
            const stuck = running.length === 0 && settled.every((s) => waiting.includes(s.lane));
            if (waiting.length > 0 && stuck) return false;
            if (budget.heldBytes > max && running.length > 1) return false;
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the budget when EXPANSION_MAX_HELD_BYTES is 0: derived from the heap limit', () => {
  const MiB = 2 ** 20;
  const derive = (heapLimitMb: number, configured = 0) =>
    expansionBudgetBytes({
      configured,
      heapLimitBytes: heapLimitMb * MiB,
      reserveBytes: 16 * MiB,
      concurrency: 16,
    }) / MiB;

  it('leaves the heap without expansions its room, and counts the bodies twice', () => {
    // --max-old-space-size=256 with 16 MiB semi-spaces: V8 reports a limit of 304 MiB.
    expect(derive(304)).toBe(40);
    expect(derive(512)).toBe(144);
  });

  it('never goes below one reservation nor above one per API slot', () => {
    expect(derive(176)).toBe(16);
    expect(derive(4144)).toBe(256);
  });

  it('takes a configured value as it is', () => {
    expect(derive(304, 100 * MiB)).toBe(100);
  });
});

describe('approximateBytes', () => {
  it('counts the characters of every string and 16 bytes per value', () => {
    expect(approximateBytes('abcd')).toBe(20);
    expect(approximateBytes({ body: 'x'.repeat(1000), id: 'm1' })).toBe(16 + 4 + 1016 + 2 + 18);
    expect(approximateBytes([1, null, 'ab'])).toBe(16 + 16 + 16 + 18);
  });

  it('grows with the body: a message of 1.5 MB counts at least 1.5 MB', () => {
    const body = 'é'.repeat(1_500_000);
    expect(approximateBytes({ id: 'm', body, to: [{ email: 'a@b.c' }] })).toBeGreaterThanOrEqual(1_500_000);
  });
});

function truncated(offset: number): Notification {
  const d = decode(
    rawRecord({
      grantId: 'g1',
      offset,
      body: messageNotification('g1', { id: `n-${offset}`, messageId: `m${offset}`, truncated: true }),
    }),
  );
  if (!d.ok) throw new Error(d.deadLetter.message);
  return d.notification;
}

describe('expander and partition cache under the expansion budget', () => {
  function setup(max: number, reserve: number) {
    const budget = new ExpansionBudget(max, reserve);
    const answers: Array<() => void> = [];
    let calls = 0;
    const expander = new Expander({
      fetch: (_g, m) =>
        new Promise((resolve) => {
          calls++;
          answers.push(() => resolve({ id: m, body: 'b'.repeat(100) }));
        }),
      concurrency: 16,
      deadlineMs: 10_000,
      requestTimeoutMs: 5_000,
      backoffBaseMs: 1,
      backoffMaxMs: 1,
      memory: budget,
    });
    return { budget, expander, answers, calls: () => calls };
  }

  it('starts no more calls than fit, and holds each body until the partition lets go of it', async () => {
    const { budget, expander, answers, calls } = setup(1000, 400);
    const cache = new ExpansionCache();
    for (const o of [1, 2, 3, 4]) cache.start(truncated(o), (n) => expander.expand(n));
    await tick();
    expect(calls()).toBe(2);
    expect(budget.waitingCalls).toBe(2);
    answers.shift()?.();
    await tick();
    await tick();
    expect(cache.settled('1')).toBe(true);
    const body = approximateBytes({ id: 'm1', body: 'b'.repeat(100) });
    // 400 reserved + the first body: room for another reservation.
    expect(calls()).toBe(3);
    expect(budget.heldBytes).toBe(body + 800);
    cache.delete('1');
    expect(budget.heldBytes).toBe(800);
    await tick();
    expect(calls()).toBe(3);
    // The second body lands: 400 + its size + the next reservation fit in 1000.
    answers.shift()?.();
    await tick();
    await tick();
    expect(calls()).toBe(4);
    expect(budget.heldBytes).toBe(800 + body);
  });

  it('gives every body back when the partition is dropped, also those that settle afterwards', async () => {
    const { budget, expander, answers } = setup(10_000, 400);
    const cache = new ExpansionCache();
    for (const o of [1, 2]) cache.start(truncated(o), (n) => expander.expand(n));
    await tick();
    answers.shift()?.();
    await tick();
    await tick();
    cache.drop();
    expect(budget.heldBytes).toBe(400);
    answers.shift()?.();
    await tick();
    await tick();
    expect(cache.settled('2')).toBe(true);
    expect(budget.heldBytes).toBe(0);
  });

  it('gives a body back that arrives after its record was let go (isolated while it was fetched)', async () => {
    const { budget, expander, answers } = setup(10_000, 400);
    const cache = new ExpansionCache();
    cache.start(truncated(1), (n) => expander.expand(n));
    await tick();
    cache.delete('1');
    answers.shift()?.();
    await tick();
    await tick();
    expect(budget.heldBytes).toBe(0);
  });

  it('ends the waits for room of a partition that is dropped: no call is made for it, others go on', async () => {
    const { budget, expander, answers, calls } = setup(800, 400);
    const dropped = new ExpansionCache();
    const other = new ExpansionCache();
    for (const o of [1, 2, 3]) dropped.start(truncated(o), (n, s) => expander.expand(n, s));
    other.start(truncated(4), (n, s) => expander.expand(n, s));
    await tick();
    expect(calls()).toBe(2);
    expect(budget.waitingCalls).toBe(2);
    dropped.drop();
    await tick();
    // Offset 3 left the queue; offset 4 of the other partition still waits for room.
    expect(budget.waitingCalls).toBe(1);
    expect(dropped.settled('3')).toBe(false);
    answers.shift()?.();
    await tick();
    await tick();
    // The first body was given back at once (its partition went), so the other partition's call starts.
    expect(calls()).toBe(3);
    answers.shift()?.();
    answers.shift()?.();
    await tick();
    await tick();
    expect(other.settled('4')).toBe(true);
    expect(calls()).toBe(3);
    expect(budget.heldBytes).toBe(approximateBytes({ id: 'm4', body: 'b'.repeat(100) }));
  });

  it('does not start an expansion admitted in the moment its partition went', async () => {
    const { budget, expander, calls } = setup(400, 400);
    const blocker = await budget.admit('9/other');
    const cache = new ExpansionCache();
    cache.start(truncated(1), (n, s) => expander.expand(n, s));
    await tick();
    // Admitted (room given back) and dropped before the expansion could go on.
    blocker.release();
    cache.drop();
    await tick();
    await tick();
    expect(calls()).toBe(0);
    expect(budget.heldBytes).toBe(0);
    expect(cache.settled('1')).toBe(false);
  });

  it('lets a burst wait on one signal, and leaves no listener behind', async () => {
    const budget = new ExpansionBudget(100, 100);
    const first = await budget.admit('0/a');
    const gone = new AbortController();
    const waits = Array.from({ length: 30 }, (_, i) => budget.admit(`0/w${i}`, [gone.signal]));
    expect(getEventListeners(gone.signal, 'abort')).toHaveLength(30);
    first.release();
    const admitted = await waits[0];
    expect(getEventListeners(gone.signal, 'abort')).toHaveLength(29);
    gone.abort(new Error('partition dropped'));
    await Promise.allSettled(waits);
    expect(getEventListeners(gone.signal, 'abort')).toHaveLength(0);
    admitted?.release();
  });

  it('ends the waits for room when the expander closes', async () => {
    const { budget, expander, answers, calls } = setup(400, 400);
    const running = expander.expand(truncated(1));
    // Its outcome taken at once, so its rejection during the tick below is handled.
    const waiting = expander.expand(truncated(2)).then(
      () => 'admitted',
      (err: Error) => err.message,
    );
    await tick();
    expect(budget.waitingCalls).toBe(1);
    expander.close();
    await tick();
    // Out of the queue at once, while the running call has not been answered.
    expect(budget.waitingCalls).toBe(0);
    expect(await waiting).toBe('expander closed');
    // The call that was running is answered after the close: its body is not taken either.
    answers.shift()?.();
    await expect(running).rejects.toThrow('expander closed');
    expect(calls()).toBe(1);
    expect(budget.heldBytes).toBe(0);
  });

  it('gives a body back when the expander closed while its call was answered', async () => {
    const { budget, expander, answers } = setup(10_000, 400);
    const outcome = expander.expand(truncated(1));
    await tick();
    expander.close();
    answers.shift()?.();
    await expect(outcome).rejects.toThrow('expander closed');
    expect(budget.heldBytes).toBe(0);
  });
});
