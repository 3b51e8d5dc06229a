/**
 * Sends a seeded scenario through the ingress the way Nylas would (simulator Sender: signed, 3 attempts,
 * retried statuses only, duplicates, reordering), with simulated time compressed by a scaled clock. While
 * generating, it records what the oracle needs about every notification and injects the Nylas API faults
 * the processors meet when they expand `.truncated` messages (429 with Retry-After, 404).
 *
 * Per notification the expectation holds the processor's object identity and ordering version, computed
 * with the documented rules (processors/stages/order.ts: objectKeyOf/versionOf, via decode on the exact
 * envelope) — the oracle and the pipeline must agree on *which* object a notification is about and how
 * new it is; what the pipeline then does with it is what the checks judge.
 */

import { objectKeyString } from '../../../processors/object-identity';
import { decode } from '../../../processors/stages/decode';
import { isDelete, isStateless } from '../../../processors/stages/order';
import type { ObjectKey } from '../../../processors/types';
import {
  buildOracleReport,
  type DeliveryAttempt,
  type GeneratedNotification,
  NotificationGenerator,
  type NotificationRecord,
  type NylasApiServer,
  type OracleReport,
  recordOf,
  SCENARIOS,
  Sender,
  scaledClock,
  type World,
} from '../../../simulator';
import { stateDigest } from './state';

export interface Expectation {
  seq: number;
  id: string;
  type: string;
  grantId: string;
  family: string;
  object: ObjectKey;
  objectKey: string;
  version: bigint;
  stateless: boolean;
  isDelete: boolean;
  truncated: boolean;
  /** Comparable state carried by the payload (state families only). */
  digest: string | undefined;
}

export interface InjectedFaults {
  /** Message ids whose first fetch answers 404 (emitted as deleted: "gone"). */
  notFound: Set<string>;
  /** Message ids whose first fetches answer 429 with a short Retry-After. */
  rateLimited: Set<string>;
  /** Message ids answered 429 with a Retry-After beyond the expansion deadline (→ DLQ). */
  beyondDeadline: Set<string>;
}

export interface TrafficOptions {
  world: World;
  api: NylasApiServer;
  url: string;
  secret: string;
  seed: number;
  count: number;
  ratePerSecond: number;
  largeRate: number;
  timeScale: number;
  notFoundEvery: number;
  rateLimitedEvery: number;
  /** Requests in flight at once (default 16). */
  concurrency?: number;
  /** Called for every generated notification (progress for the fault schedule). */
  onGenerated?: (generated: number) => void;
}

export interface TrafficRun {
  report: OracleReport;
  records: NotificationRecord[];
  expectations: Map<string, Expectation>;
  attempts: readonly DeliveryAttempt[];
  injected: InjectedFaults;
  retryDelaysMs: readonly number[];
  scenario: string;
  startedAt: number;
  finishedAt: number;
  /** The scaled clock's start (wall and simulated ms at once): an attempt's `startedAt` happened at wall
   * time clockStartedAt + (startedAt − clockStartedAt) / timeScale. */
  clockStartedAt: number;
  timeScale: number;
}

/** The scenario: mixed traffic with duplicates and reordering (§1 at-least-once, §5 no ordering). */
export const E2E_SCENARIO = 'out-of-order';

/** Nylas's backoff (retry-policy.ts DEFAULT_RETRY_DELAYS_MS), in simulated time; the clock compresses it. */
export const RETRY_DELAYS_MS = [90_000, 900_000] as const;

export function expectationOf(n: GeneratedNotification): Expectation {
  const d = decode({
    topic: 'oracle',
    partition: 0,
    offset: '0',
    key: null,
    value: Buffer.from(JSON.stringify(n.envelope)),
    headers: {},
    timestamp: '0',
  });
  if (!d.ok)
    throw new Error(
      `the simulator generated an undecodable notification ${n.envelope.id}: ${d.deadLetter.message}`,
    );
  const x = d.notification;
  return {
    seq: n.seq,
    id: n.envelope.id,
    type: n.envelope.type,
    grantId: x.grantId,
    family: x.family,
    object: x.object,
    objectKey: objectKeyString(x.object),
    version: x.version,
    stateless: isStateless(x),
    isDelete: isDelete(x),
    truncated: n.truncated,
    digest: stateDigest(x.object.objectType, x.action === 'deleted', x.envelope.data.object),
  };
}

export async function sendTraffic(o: TrafficOptions): Promise<TrafficRun> {
  const scenario = SCENARIOS[E2E_SCENARIO];
  if (!scenario) throw new Error(`no scenario ${E2E_SCENARIO}`);
  const generator = new NotificationGenerator({ world: o.world, bodySizes: { largeRate: o.largeRate } });
  const clockStartedAt = Date.now();
  const clock = scaledClock(o.timeScale, clockStartedAt);
  const sender = new Sender({
    ...scenario.senderDefaults,
    url: o.url,
    secret: o.secret,
    clock,
    seed: o.seed,
    concurrency: o.concurrency ?? 16,
    ratePerSecond: o.ratePerSecond,
    retryDelaysMs: RETRY_DELAYS_MS,
  });
  const records: NotificationRecord[] = [];
  const expectations = new Map<string, Expectation>();
  const injected: InjectedFaults = { notFound: new Set(), rateLimited: new Set(), beyondDeadline: new Set() };
  const faults = o.api.faults;
  // A few anonymous 429s for whichever message fetches come first.
  faults.enqueue({
    match: { method: 'GET', pathIncludes: '/messages/' },
    status: 429,
    retryAfterSeconds: 1,
    times: 3,
  });
  let truncatedSeen = 0;
  function* generate(): Iterable<GeneratedNotification> {
    for (const n of scenario?.generate({ generator, count: o.count }) ?? []) {
      records.push(recordOf(n));
      const e = expectationOf(n);
      expectations.set(e.id, e);
      if (n.truncated && e.family === 'message' && !e.isDelete) {
        truncatedSeen += 1;
        const path = `/messages/${e.object.objectId}`;
        // Decided from the sequence alone, so the same seed injects the same faults every run.
        if (truncatedSeen === 2) {
          faults.enqueue({
            match: { method: 'GET', pathIncludes: path },
            status: 429,
            retryAfterSeconds: 45,
          });
          injected.beyondDeadline.add(e.object.objectId);
        } else if (truncatedSeen % o.notFoundEvery === 0) {
          faults.enqueue({ match: { method: 'GET', pathIncludes: path }, status: 404 });
          injected.notFound.add(e.object.objectId);
        } else if (truncatedSeen % o.rateLimitedEvery === 0) {
          faults.enqueue({
            match: { method: 'GET', pathIncludes: path },
            status: 429,
            retryAfterSeconds: 1,
            times: 2,
          });
          injected.rateLimited.add(e.object.objectId);
        }
      }
      o.onGenerated?.(records.length);
      yield n;
    }
  }
  const startedAt = Date.now();
  try {
    const outcomes = await sender.send(generate());
    const report = buildOracleReport({
      world: o.world,
      generated: records,
      outcomes,
      includeFinalState: true,
    });
    return {
      report,
      records,
      expectations,
      attempts: sender.attempts,
      injected,
      retryDelaysMs: RETRY_DELAYS_MS,
      scenario: E2E_SCENARIO,
      startedAt,
      finishedAt: Date.now(),
      clockStartedAt,
      timeScale: o.timeScale,
    };
  } finally {
    sender.close();
  }
}
