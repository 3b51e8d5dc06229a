/**
 * The oracle comparison must be able to fail: synthetic outputs with one lost notification, one
 * duplicated event, one object whose versions go down, one final-state mismatch and one retry-rule
 * violation are each counted, and the accepted exceptions (superseded, DLQ, 1-second ties) are not.
 * Pure (no infrastructure), so it is quick; it sits beside the harness it checks.
 */
import type { DeliveryAttempt, OracleReport } from '../../simulator';
import type { EmittedEvent, PipelineOutputs } from './harness/outputs';
import type { Expectation } from './harness/traffic';
import { judge } from './harness/verdict';

const G = 'grant-1';

function expectation(
  id: string,
  seq: number,
  objectId: string,
  version: bigint,
  extra: Partial<Expectation> = {},
) {
  const object = { grantId: G, objectType: 'message', objectId };
  return {
    seq,
    id,
    type: 'message.updated',
    grantId: G,
    family: 'message',
    object,
    objectKey: JSON.stringify([G, 'message', objectId]),
    version,
    stateless: false,
    isDelete: false,
    truncated: false,
    digest: `subject=${id}|unread=true|folders=inbox`,
    ...extra,
  } satisfies Expectation;
}

function event(
  notificationId: string,
  objectId: string,
  version: bigint,
  offset: number,
  digest?: string,
): EmittedEvent {
  return {
    topic: 'nylas.email.messages',
    partition: 0,
    offset: BigInt(offset),
    eventId: `e-${notificationId}`,
    eventType: 'message.updated',
    nylasType: 'message.updated',
    notificationId,
    grantId: G,
    objectId,
    objectType: 'message',
    version,
    action: 'UPDATED',
    expanded: false,
    stateless: false,
    digest: digest ?? `subject=${notificationId}|unread=true|folders=inbox`,
    goneOnExpand: false,
    timestamp: 0,
  };
}

/** One signed raw write per notification id, on partition 0 in order. */
function rawWrites(ids: string[]): PipelineOutputs['raw'] {
  return ids.map((notificationId, i) => ({
    notificationId,
    attempt: 1,
    partition: 0,
    offset: BigInt(i),
    signatureValid: true,
  }));
}

/** A run of the notifications `x` whose only outputs are `deadLetters` (and their raw writes). */
function judgeDeadLetters(
  x: Expectation[],
  deadLetters: PipelineOutputs['deadLetters'],
  injected: { beyondDeadline?: Set<string> } = {},
  unauthorizedServed: Map<string, number> = new Map(),
) {
  const ids = x.map((e) => e.id);
  return judge({
    report: {
      summary: {
        generated: ids.length,
        deliveries: ids.length,
        duplicateDeliveries: 0,
        attempts: ids.length,
      },
      notifications: verdictFor(ids),
      finalState: [],
    } as unknown as OracleReport,
    expectations: new Map(x.map((e) => [e.id, e])),
    attempts: [],
    retryDelaysMs: [90_000, 900_000],
    outputs: { events: [], deadLetters, raw: rawWrites(ids) },
    injected: {
      notFound: new Set(),
      rateLimited: new Set(),
      beyondDeadline: injected.beyondDeadline ?? new Set(),
    },
    notFoundServed: new Map(),
    unauthorizedServed,
  });
}

function verdictFor(ids: string[]) {
  return ids.map((id, i) => ({
    seq: i + 1,
    id,
    type: 'message.updated',
    baseType: 'message.updated',
    grantId: G,
    truncated: false,
    backfill: false,
    acknowledged: true,
    deliveries: 1,
    attempts: 1,
    reason: 'delivered' as const,
  }));
}

function attempt(
  delivery: number,
  n: number,
  status: number,
  verdict: DeliveryAttempt['verdict'],
  delay = 0,
) {
  return {
    delivery,
    notificationId: `d${delivery}`,
    type: 'message.updated',
    attempt: n,
    startedAt: 0,
    scheduledDelayMs: delay,
    durationMs: 1,
    result: 'response',
    status,
    verdict,
    signature: '',
    bytes: 1,
    compressed: false,
  } satisfies DeliveryAttempt;
}

describe('the e2e verdict', () => {
  it('counts each kind of failure, and only real ones', () => {
    // m1: n1 (v10) and n2 (v20) emitted; n3 (v15, generated first, delivered late) is stale, superseded.
    // m2: n4 never emitted, nothing newer → lost, and its final state is missing → mismatch.
    // m3: n5 (v30) then n6 (v25) → non-monotone. m4: n8 then n7 emitted in order, but n7's event does
    //     not describe the state the world ends in → final-state mismatch. m5: n9 in the DLQ, as the
    //     run predicts (a truncated message answered 429 beyond the deadline).
    // m6: n10's event committed twice → duplicated.
    const x = [
      expectation('n1', 1, 'm1', 10n),
      expectation('n2', 2, 'm1', 20n),
      expectation('n3', 0, 'm1', 15n),
      expectation('n4', 4, 'm2', 10n),
      expectation('n5', 5, 'm3', 30n),
      expectation('n6', 6, 'm3', 25n),
      expectation('n8', 7, 'm4', 40n),
      expectation('n7', 8, 'm4', 50n),
      expectation('n9', 9, 'm5', 10n, { truncated: true, type: 'message.updated.truncated' }),
      expectation('n10', 10, 'm6', 10n),
    ];
    const outputs: PipelineOutputs = {
      events: [
        event('n1', 'm1', 10n, 1),
        event('n2', 'm1', 20n, 2),
        event('n5', 'm3', 30n, 3),
        event('n6', 'm3', 25n, 4),
        event('n8', 'm4', 40n, 5),
        event('n7', 'm4', 50n, 6, 'subject=corrupted|unread=true|folders=inbox'),
        event('n10', 'm6', 10n, 7),
        event('n10', 'm6', 10n, 8),
      ],
      deadLetters: [
        { notificationId: 'n9', reason: 'NYLAS_API_DEADLINE', stage: 'expand', partition: 0, offset: 1n },
      ],
      raw: rawWrites(x.map((e) => e.id)),
    };
    const final = (id: string, digestOf: string) => ({
      grantId: G,
      kind: 'messages' as const,
      id,
      deleted: false,
      state: { subject: digestOf, unread: true, folders: ['INBOX'] },
      revision: 1,
    });
    const report = {
      summary: { generated: x.length, deliveries: x.length, duplicateDeliveries: 0, attempts: 4 },
      notifications: verdictFor(x.map((e) => e.id)),
      finalState: [
        final('m1', 'n2'),
        final('m2', 'n4'),
        final('m3', 'n6'),
        final('m4', 'n7'),
        final('m5', 'n9'),
      ],
    } as unknown as OracleReport;
    const attempts = [
      attempt(1, 1, 503, 'retry'),
      attempt(1, 2, 200, 'delivered', 90_000),
      // Retried after a 400 (Nylas never retries a 400), and too early.
      attempt(2, 1, 400, 'retry'),
      attempt(2, 2, 200, 'delivered', 10),
    ];
    const v = judge({
      report,
      expectations: new Map(x.map((e) => [e.id, e])),
      attempts,
      retryDelaysMs: [90_000, 900_000],
      outputs,
      injected: { notFound: new Set(), rateLimited: new Set(), beyondDeadline: new Set(['m5']) },
      notFoundServed: new Map(),
    });
    expect(v.unpredictedDeadLetters).toBe(0);
    expect({
      lost: v.lost,
      stale: v.stale,
      duplicated: v.duplicated,
      nonMonotone: v.nonMonotone,
      finalMismatches: v.finalMismatches,
      finalInDlq: v.finalInDlq,
      retried: v.retried,
    }).toEqual({
      lost: 1,
      stale: 1,
      duplicated: 1,
      nonMonotone: 1,
      finalMismatches: 2,
      finalInDlq: 1,
      retried: 2,
    });
    expect(v.examples.lost).toEqual([expect.stringContaining('n4')]);
    expect(v.retryRuleViolations).toBe(2);
  });
  it('a truncated update the API answered 404 for, after the object was already gone, is superseded — once per 404', () => {
    const created = expectation('n11', 1, 'm7', 10n, { truncated: true, type: 'message.created.truncated' });
    const updated = expectation('n12', 2, 'm7', 20n, { truncated: true, type: 'message.updated.truncated' });
    const gone = {
      ...event('n11', 'm7', 10n, 1),
      action: 'DELETED',
      eventType: 'message.deleted',
      goneOnExpand: true,
    };
    const run = (served: number) =>
      judge({
        report: {
          summary: { generated: 2, deliveries: 2, duplicateDeliveries: 0, attempts: 2 },
          notifications: verdictFor(['n11', 'n12']),
          finalState: [],
        } as unknown as OracleReport,
        expectations: new Map([
          ['n11', created],
          ['n12', updated],
        ]),
        attempts: [],
        retryDelaysMs: [90_000, 900_000],
        outputs: {
          events: [gone],
          deadLetters: [],
          raw: rawWrites(['n11', 'n12']),
        },
        injected: { notFound: new Set(['m7']), rateLimited: new Set(), beyondDeadline: new Set() },
        notFoundServed: new Map([['m7', served]]),
      });
    expect([run(2).lost, run(2).stale]).toEqual([0, 1]);
    // Only one 404 was served (the one that made n11 "gone"): n12's fetch succeeded, so n12 is lost.
    expect([run(1).lost, run(1).stale]).toEqual([1, 0]);
  });

  it('fails on a DLQ record the run did not predict: a loss cannot hide in the DLQ', () => {
    // n21 is a plain update (nothing injected for it) and went to the DLQ; n22 is a truncated message
    // predicted to fail with NYLAS_API_DEADLINE but dead-lettered for another reason; one record has no
    // notification id at all. n23 is the predicted dead letter, the only one accepted.
    const x = [
      expectation('n21', 1, 'm21', 10n),
      expectation('n22', 2, 'm22', 10n, { truncated: true }),
      expectation('n23', 3, 'm23', 10n, { truncated: true }),
    ];
    const dead = (notificationId: string | undefined, reason: string) => ({
      notificationId,
      reason,
      stage: 'normalize',
      partition: 0,
      offset: 1n,
    });
    const v = judgeDeadLetters(
      x,
      [
        dead('n21', 'NORMALIZE_FAILED'),
        dead('n22', 'BEYOND_WINDOW'),
        dead(undefined, 'MALFORMED_JSON'),
        dead('n23', 'NYLAS_API_DEADLINE'),
      ],
      { beyondDeadline: new Set(['m22', 'm23']) },
    );
    expect(v.unpredictedDeadLetters).toBe(3);
    expect(v.lost).toBe(2);
    expect(v.examples.lost).toEqual([expect.stringContaining('n21'), expect.stringContaining('n22')]);
    expect(v.examples['unpredicted dead letter']).toHaveLength(3);
  });
  it('accepts NYLAS_API_UNAUTHORIZED for a truncated message only when the API really answered its fetch 401', () => {
    // The grant expired between the notification and the fetch (a processor far behind): re-drivable,
    // not lost, but only if the simulator's API did answer 401 for that message.
    const x = [expectation('n24', 1, 'm24', 10n, { truncated: true })];
    const dl = {
      notificationId: 'n24',
      reason: 'NYLAS_API_UNAUTHORIZED',
      stage: 'expand',
      partition: 0,
      offset: 1n,
    };
    const run = (unauthorizedServed: Map<string, number>) =>
      judgeDeadLetters(x, [dl], {}, unauthorizedServed);
    expect([run(new Map([['m24', 1]])).unpredictedDeadLetters, run(new Map([['m24', 1]])).lost]).toEqual([
      0, 0,
    ]);
    expect([run(new Map()).unpredictedDeadLetters, run(new Map()).lost]).toEqual([1, 1]);
  });
});
