/**
 * Failover end to end (issue 17): the faults a production cluster really has, on a private three-broker
 * KRaft cluster (instance "failover"; replication 3, min.insync.replicas=2 for our topics and Kafka's
 * internal ones). The simulator sends at 500/s through the real ingress and two real processors while,
 * one after the other:
 *
 *   (a) the broker leading the most raw-topic partitions is SIGKILLed, and started again ~10 s later;
 *   (b) another broker is stopped (SIGTERM, controlled shutdown) and started again ~10 s later, once
 *       Nylas's retries of (a)'s 503s have all been made (30 s of wall time after (a));
 *   (c) the processors are restarted one after the other (SIGTERM, start, ready).
 *
 * Then the processors drain and the committed outputs are judged like the chaos test's
 * (harness/verdict.ts): lost, duplicated and non-monotone 0, final state equal to the oracle's. On top:
 * the ingress answered only 200 or 503 (no 500, no timeout, no refused connection), and Nylas's retries
 * recovered every 503 (every notification ended acknowledged). Per fault it prints the 503s, the retries,
 * when the last 503 was answered, and when the processors' lag was back to normal.
 *
 * Part of `npm test`; alone: `npm run test:failover`. NYLAS_STREAM_FAILOVER_COUNT / _RATE change the
 * traffic (default 30 000 at 500/s: a minute if the machine keeps up; on a 2-core machine the sender got
 * 72-144/s and a run took 4.6-9.2 min). It found three faults of kafkajs's send and read_committed that
 * one broker never shows (docs/development.md; the fixes are in lib/kafkajs/).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceProcess } from '../../cli/up/supervisor';
import { createWorld } from '../../simulator';
import { pollUntil } from '../helpers/kafka';
import { assignedPartitions } from './harness/faults';
import { E2ePipeline, type RuntimePorts } from './harness/pipeline';
import { judgeRun, lossFigures, NO_LOSS, rawLag, waitUntilDrained } from './harness/run';
import { processorLogLinesIn } from './harness/service-logs';
import { RETRY_DELAYS_MS, type TrafficRun } from './harness/traffic';
import { summaryTable } from './harness/verdict';

/** Below the kernel's ephemeral range (see E2E_PORTS); brokers 2 and 3 listen on +10 and +20. */
const FAILOVER_PORTS: RuntimePorts = {
  kafka: 31092,
  controller: 31093,
  registry: 31081,
  registryManagement: 31000,
};
const OUTAGE_MS = 10_000;

function positive(name: string, fallback: number): number {
  const text = process.env[name];
  const n = text === undefined || text === '' ? fallback : Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${text}"`);
  return n;
}

const COUNT = positive('NYLAS_STREAM_FAILOVER_COUNT', 30_000);
const RATE = positive('NYLAS_STREAM_FAILOVER_RATE', 500);
const SEED = 20_261_205;
const GRANTS = 100;
/** Simulated time runs this many times faster than the wall clock (Nylas's retry delays with it). */
const TIME_SCALE = 33;
const NYLAS_RETRY_SPAN_MS = (RETRY_DELAYS_MS[0] + RETRY_DELAYS_MS[1]) / TIME_SCALE;

jest.setTimeout(2_400_000);

const log = (line: string) => console.log(`[failover ${new Date().toISOString().slice(11, 19)}] ${line}`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface Fault {
  what: string;
  /** Wall-clock ms. */
  began: number;
  ended: number;
  detail: string;
}

interface LagSample {
  at: number;
  lag: number | undefined;
}

describe(`failover on a three-broker cluster (${COUNT} notifications at ${RATE}/s, ${GRANTS} grants, seed ${SEED})`, () => {
  const pipeline = new E2ePipeline({
    partitions: 6,
    log,
    instance: 'failover',
    ports: FAILOVER_PORTS,
    brokers: 3,
    kafkaHeap: process.env.LOCAL_KAFKA_HEAP || '384m',
  });
  const started = Date.now();

  beforeAll(async () => {
    await pipeline.startInfrastructure();
    log(
      `three brokers and the registry ready in ${seconds(Date.now() - started)} (${pipeline.runtime.brokers}, ${pipeline.runtime.registryUrl})`,
    );
  });

  afterAll(async () => {
    const keep = process.env.NYLAS_STREAM_E2E_KEEP === '1';
    await pipeline.teardown(keep);
    log(`torn down${keep ? ' (data kept for inspection)' : ''}; service logs were in ${pipeline.logDir}`);
  });

  /** Leaders of the raw topic's partitions, by broker id. */
  async function rawLeaders(): Promise<Map<number, number[]>> {
    const md = await pipeline.admin.fetchTopicMetadata({ topics: [pipeline.config.topics.raw] });
    const by = new Map<number, number[]>();
    for (const p of md.topics[0]?.partitions ?? [])
      by.set(p.leader, [...(by.get(p.leader) ?? []), p.partitionId]);
    return by;
  }

  /** The broker leading the most raw partitions (lowest id on a tie), leaving out `except`. */
  function busiestLeader(
    leaders: Map<number, number[]>,
    except?: number,
  ): [id: number, partitions: number[]] | undefined {
    return [...leaders]
      .filter(([b]) => b !== except)
      .sort((a, b) => b[1].length - a[1].length || a[0] - b[0])[0];
  }

  /** Every partition of every topic (internal ones included) has its full replica set in sync. */
  async function fullyReplicated(): Promise<boolean> {
    const md = await pipeline.admin.fetchTopicMetadata();
    return md.topics.every((t) =>
      t.partitions.every((p) => p.isr.length === p.replicas.length && p.leader >= 0),
    );
  }

  async function restartBrokerAfter(id: number, downSince: number): Promise<string> {
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downSince))); // the deliberate outage
    const t0 = Date.now();
    await pipeline.runtime.startBroker(id);
    const startedIn = Date.now() - t0;
    await pollUntil(() => fullyReplicated().catch(() => false), {
      timeoutMs: 180_000,
      intervalMs: 500,
      description: `every partition fully in sync again after broker ${id} returned`,
    });
    return `down ${seconds(t0 - downSince)}, started in ${seconds(startedIn)}, every partition in sync ${seconds(Date.now() - t0 - startedIn)} later`;
  }

  async function restartProcessor(s: ServiceProcess, other: ServiceProcess): Promise<string> {
    const t0 = Date.now();
    await pipeline.stop(s);
    const stoppedIn = Date.now() - t0;
    await pipeline.start(s);
    const readyIn = Date.now() - t0 - stoppedIn;
    const owned = await pollUntil(
      () => {
        const a = assignedPartitions(s) ?? [];
        const b = assignedPartitions(other) ?? [];
        return a.length > 0 && b.length > 0 && a.every((x) => !b.includes(x)) ? a : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, description: `${s.options.name} owning partitions again` },
    );
    return `${s.options.name}: stopped in ${seconds(stoppedIn)}, ready ${seconds(readyIn)} later, owns [${owned}] ${seconds(Date.now() - t0 - stoppedIn - readyIn)} after that`;
  }

  it('loses nothing, duplicates nothing, keeps order, and recovers every 503 when a leader dies, a broker restarts and the processors restart', async () => {
    const startTime = Math.floor(Date.now() / 1000) - 3600;
    const world = createWorld({ seed: SEED, grants: GRANTS, startTime });
    await pipeline.startApi(world);
    pipeline.defineServices();
    await pipeline.start(pipeline.ingress);
    const [p1, p2] = pipeline.processors as [ServiceProcess, ServiceProcess];
    await Promise.all([pipeline.start(p1), pipeline.start(p2)]);

    const lag: LagSample[] = [];
    const sampler = setInterval(() => {
      const at = Date.now();
      rawLag(pipeline).then(
        (n) => lag.push({ at, lag: n }),
        () => lag.push({ at, lag: undefined }),
      );
    }, 1000);

    let generated = 0;
    const traffic = pipeline.send({
      world,
      seed: SEED,
      count: COUNT,
      ratePerSecond: RATE,
      largeRate: 0.01,
      timeScale: TIME_SCALE,
      notFoundEvery: 5,
      rateLimitedEvery: 3,
      // 500/s with answers of tens of ms, and room for the requests a fault holds up to the ack budget.
      concurrency: 64,
      onGenerated: (n) => {
        generated = n;
      },
    });
    const progress = setInterval(
      () => log(`progress: ${generated}/${COUNT} generated, raw lag ${lag[lag.length - 1]?.lag ?? '?'}`),
      15_000,
    );
    const faults: Fault[] = [];
    const at = (share: number) =>
      pollUntil(() => generated >= share * COUNT, {
        timeoutMs: 1_800_000,
        intervalMs: 200,
        description: `${Math.round(share * 100)} % of the traffic generated`,
      });
    const fault = async (what: string, fn: () => Promise<string>) => {
      const began = Date.now();
      log(`fault: ${what} (at ${((generated / COUNT) * 100).toFixed(0)} % of the traffic)`);
      const detail = await fn();
      faults.push({ what, began, ended: Date.now(), detail });
      log(`fault: ${what} done in ${seconds(Date.now() - began)}: ${detail}`);
    };
    const schedule = async () => {
      await at(0.12);
      const killed = await (async () => {
        const [id, parts] = busiestLeader(await rawLeaders()) ?? [];
        if (id === undefined || !parts) throw new Error('no leader of the raw topic');
        await fault(`(a) SIGKILL broker ${id}, leader of raw partitions [${parts}]`, async () => {
          const t0 = Date.now();
          await pipeline.runtime.killBroker(id);
          const moved = await pollUntil(
            async () => {
              const l = await rawLeaders().catch(() => undefined);
              return l && !l.has(id) && !l.has(-1) ? l : undefined;
            },
            { timeoutMs: 120_000, intervalMs: 250, description: `new leaders for broker ${id}'s partitions` },
          );
          const movedIn = Date.now() - t0;
          const back = await restartBrokerAfter(id, t0);
          return `new leaders after ${seconds(movedIn)} (${[...moved].map(([b, p]) => `broker ${b}: [${p}]`).join(', ')}); ${back}`;
        });
        return id;
      })();

      await at(0.42);
      // Nylas retries a failed delivery 90 s and 900 s (simulated) later: 30 s of wall time at TIME_SCALE.
      // A second outage inside that span after the first one's 503s can fail all three attempts of a
      // notification, and Nylas then drops it (recovering that is backfill's job, not this test's). It
      // happened once (2026-12-07: 31 notifications ended "retries_exhausted", their third attempts
      // answered 503 in the first 0.7 s of (b), which began 27.8 s after (a)). So (b) waits until every
      // retry of (a)'s 503s has been made; (a) ends after its 503s do (new leaders, then the restart).
      const aEnded = faults[0]?.ended ?? Date.now();
      await sleep(Math.max(0, aEnded + NYLAS_RETRY_SPAN_MS + 2000 - Date.now()));
      const [other] = busiestLeader(await rawLeaders(), killed) ?? [(killed % 3) + 1];
      await fault(`(b) stop broker ${other} (SIGTERM) and start it again`, async () => {
        const t0 = Date.now();
        const how = await pipeline.runtime.stopBroker(other);
        const stoppedIn = Date.now() - t0;
        return `${how} in ${seconds(stoppedIn)}; ${await restartBrokerAfter(other, t0)}`;
      });

      await at(0.72);
      await fault('(c) processors restarted one after the other', async () => {
        const first = await restartProcessor(p1, p2);
        const second = await restartProcessor(p2, p1);
        return `${first}; ${second}`;
      });
    };

    let run: TrafficRun;
    try {
      const [t, s] = await Promise.allSettled([traffic, schedule()]);
      if (s.status === 'rejected') throw s.reason;
      if (t.status === 'rejected') throw t.reason;
      run = t.value;
    } finally {
      clearInterval(progress);
    }
    log(`traffic sent in ${seconds(run.finishedAt - run.startedAt)}`);
    await waitUntilDrained(pipeline);
    clearInterval(sampler);
    log('drained; reading the domain topics, the DLQ and the raw topic (read_committed)');
    const { verdict, outputs } = await judgeRun(pipeline, run);
    // When the extra copies of duplicated domain events were produced (their record timestamps): which
    // fault they follow tells where exactly-once broke.
    const copies = new Map<string, number[]>();
    for (const e of outputs.events) copies.set(e.eventId, [...(copies.get(e.eventId) ?? []), e.timestamp]);
    const extraCopyTimes = [...copies.values()]
      .filter((t) => t.length > 1)
      .flatMap((t) => t.sort((a, b) => a - b).slice(1));

    // ---- per-fault figures, from the sender's attempt log and the lag samples ---------------------
    const wall = (simulatedMs: number) =>
      run.clockStartedAt + (simulatedMs - run.clockStartedAt) / run.timeScale;
    const answers = run.attempts.map((a) => ({
      at: wall(a.startedAt) + a.durationMs,
      status: a.result === 'response' ? String(a.status) : a.result,
      retry: a.attempt > 1,
    }));
    const byStatus: Record<string, number> = {};
    for (const a of answers) byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
    const baselineLag = (() => {
      const before = lag.filter((s) => s.lag !== undefined && s.at < (faults[0]?.began ?? Date.now()));
      const sorted = before.map((s) => s.lag as number).sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)] ?? 0;
    })();
    // "Back to normal": at most 3 s of traffic behind, or twice the median before the first fault.
    const lagThreshold = Math.max(3 * RATE, 2 * baselineLag);
    const rows = faults.map((f, i) => {
      const until = faults[i + 1]?.began ?? run.finishedAt + 1;
      const inWindow = answers.filter((a) => a.at >= f.began && a.at < until);
      const s503 = inWindow.filter((a) => a.status === '503');
      const last503 = s503.reduce((m, a) => Math.max(m, a.at), 0);
      const first200After = last503
        ? inWindow
            .filter((a) => a.status === '200' && a.at > last503)
            .reduce((m, a) => Math.min(m, a.at), Infinity)
        : undefined;
      // Lag: the peak in the fault's window; "back" = the first sample at or under the threshold after the
      // last one over it, looked for past the window too (marked) when the lag was still high at its end.
      const samples = lag.filter((s) => s.at >= f.began && s.at < until);
      const peak = samples.reduce((m, s) => Math.max(m, s.lag ?? 0), 0);
      const high = (s: LagSample) => s.lag === undefined || s.lag > lagThreshold;
      const lastHigh = samples.filter(high).reduce((m, s) => Math.max(m, s.at), 0);
      const recovered = lastHigh === 0 ? f.began : lag.find((s) => s.at > lastHigh && !high(s))?.at;
      const duplicates = extraCopyTimes.filter((t) => t >= f.began && t < until).length;
      return {
        duplicates,
        what: f.what,
        seconds: (f.ended - f.began) / 1000,
        answers: inWindow.length,
        s503: s503.length,
        retries: inWindow.filter((a) => a.retry).length,
        last503: last503 ? (last503 - f.began) / 1000 : undefined,
        first200After:
          first200After !== undefined && Number.isFinite(first200After)
            ? (first200After - f.began) / 1000
            : undefined,
        peakLag: peak,
        lagBack: recovered === undefined ? undefined : (recovered - f.began) / 1000,
        lagBackAfterWindow: recovered !== undefined && recovered >= until,
        detail: f.detail,
      };
    });
    const retries = answers.filter((a) => a.retry).length;
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    const report = [
      summaryTable(
        verdict,
        `failover summary — 3 brokers, ${COUNT} at ${RATE}/s, seed ${SEED}, ${minutes} min in total`,
      ),
      `ingress answers: ${Object.entries(byStatus)
        .map(([k, v]) => `${k} × ${v}`)
        .join(', ')}; retries (attempts 2 and 3) ${retries}`,
      `duplicated domain events produced before the first fault: ${extraCopyTimes.filter((t) => t < (faults[0]?.began ?? Infinity)).length}`,
      `lag before the first fault: median ${baselineLag}; "back to normal" = at most ${lagThreshold}`,
      'faults (503s and retries counted from the fault until the next one; times from the fault):',
      ...rows.map(
        (r) =>
          `  ${r.what} [${r.seconds.toFixed(1)} s]\n` +
          `      ${r.answers} answers, ${r.s503} × 503, ${r.retries} retries; last 503 at ${r.last503 === undefined ? '-' : `+${r.last503.toFixed(1)} s`}, first 200 after it at ${r.first200After === undefined ? '-' : `+${r.first200After.toFixed(1)} s`}; raw lag peak ${r.peakLag}, back to normal at ${r.lagBack === undefined ? 'never' : `+${r.lagBack.toFixed(1)} s${r.lagBackAfterWindow ? ' (after the next fault began)' : ''}`}; ${r.duplicates} duplicated domain events produced in this window\n` +
          `      ${r.detail}`,
      ),
      ...pipeline.events
        .filter((e) => /unexpectedly|during start-up|gave up/.test(e.what))
        .map((e) => `  ! +${((e.at - run.startedAt) / 1000).toFixed(0)} s ${e.service}: ${e.what}`),
      `service exits nobody asked for: ${pipeline.unexpectedExits} while running, ${pipeline.failedStartups} during start-up (each started again by the harness, as an orchestrator would)`,
    ].join('\n');
    console.log(report);
    // A duplicate is explained only by what the processors logged around it, and CI keeps nothing else
    // (the instance is torn down): the failure's own message carries them, so a cut log still shows them.
    const copyWindows = [...copies.values()]
      .filter((t) => t.length > 1)
      .map((t) => ({ from: Math.min(...t) - 5000, to: Math.max(...t) + 2000 }));
    if (copyWindows.length > 0) {
      throw new Error(
        [
          `${verdict.duplicated} duplicated domain events: ${JSON.stringify(lossFigures(verdict))}`,
          ...(verdict.examples.duplicated ?? []),
          "the processors' warnings and errors from 5 s before to 2 s after the copies:",
          ...processorLogLinesIn(pipeline.logDir, copyWindows),
        ].join('\n'),
      );
    }

    expect(faults).toHaveLength(3);
    // Every fault began while the simulator was still sending.
    for (const f of faults) expect(f.began).toBeLessThan(run.finishedAt);
    expect(lossFigures(verdict)).toEqual(NO_LOSS);
    // Only 200 and 503 (Retry-After): nothing Nylas would drop, no hung or refused request; and every 503
    // was recovered by a retry: nothing ended unacknowledged.
    expect(Object.keys(byStatus).filter((k) => k !== '200' && k !== '503')).toEqual([]);
    expect(verdict.notAckedByReason).toEqual({});
    expect(verdict.acked).toBe(verdict.sent);
    expect(verdict.finalChecked).toBeGreaterThan(GRANTS);
  });
});
