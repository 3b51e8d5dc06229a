/**
 * The fault schedule, run while the simulator sends. Each step waits for a share of the traffic to be
 * generated, so faults land mid-burst whatever the machine's speed; the steps run one after the other:
 *
 *   1. a second processor joins              → rebalance (partitions move, state restored on takeover)
 *   2. the ingress is restarted (SIGTERM)     → in-flight requests finish, new ones are refused, Nylas retries
 *   3. a processor is SIGKILLed inside an open transaction (observed: a read_uncommitted reader sees
 *      state-changelog records past the partition's last stable offset), then started again
 *   4. the broker is stopped for ~10 s and started again
 *   5. the registry is stopped for ~10 s while a processor restarts (its start-up must wait for it)
 *
 * The only fixed sleeps are the deliberate ~10 s outages.
 */
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceProcess } from '../../../cli/up/supervisor';
import { pollUntil, TopicCollector } from '../../helpers/kafka';
import type { E2ePipeline } from './pipeline';

export interface FaultStep {
  /** Seconds since the traffic started. */
  at: number;
  /** Share of the notifications generated when the step began. */
  progress: number;
  what: string;
  detail: string;
  seconds: number;
}

export const OUTAGE_MS = 10_000;

/**
 * Input partitions a processor owns: the last "partitions assigned" line its current run logged. (Its
 * consumer-lag gauge is not usable for this: a round that ends after a revocation sets the gauge of the
 * revoked partition again.)
 */
export function assignedPartitions(service: ServiceProcess): number[] | undefined {
  if (!existsSync(service.logFile)) return undefined;
  const text = readFileSync(service.logFile, 'utf8');
  const run = text.slice(text.lastIndexOf('==== start'));
  let last: number[] | undefined;
  for (const line of run.split('\n')) {
    if (!line.includes('"msg":"partitions assigned"')) continue;
    try {
      last = (JSON.parse(line) as { partitions: number[] }).partitions;
    } catch {
      // a line cut by a SIGKILL
    }
  }
  return last;
}

async function readyz(url: string): Promise<number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(3000) })).status;
  } catch {
    return 0;
  }
}

export class FaultSchedule {
  readonly steps: FaultStep[] = [];
  private readonly startedAt = Date.now();

  constructor(
    private readonly p: E2ePipeline,
    private readonly progress: () => number,
    private readonly log: (line: string) => void,
  ) {}

  private async at(share: number): Promise<void> {
    await pollUntil(() => this.progress() >= share, {
      timeoutMs: 1_800_000,
      intervalMs: 200,
      description: `${Math.round(share * 100)} % of the traffic generated`,
    });
  }

  private async step(what: string, fn: () => Promise<string>): Promise<void> {
    const began = Date.now();
    const progress = this.progress();
    this.log(`fault: ${what} (at ${(progress * 100).toFixed(0)} % of the traffic)`);
    const detail = await fn();
    const s: FaultStep = {
      at: Math.round((began - this.startedAt) / 100) / 10,
      progress,
      what,
      detail,
      seconds: Math.round((Date.now() - began) / 100) / 10,
    };
    this.steps.push(s);
    this.log(`fault: ${what} done in ${s.seconds} s: ${detail}`);
  }

  private get p1(): ServiceProcess {
    return this.p.processors[0] as ServiceProcess;
  }

  private get p2(): ServiceProcess {
    return this.p.processors[1] as ServiceProcess;
  }

  async run(): Promise<FaultStep[]> {
    await this.at(0.08);
    await this.step('second processor joins (rebalance)', async () => {
      await this.p.start(this.p2);
      const shared = await pollUntil(
        () => {
          const a = assignedPartitions(this.p1) ?? [];
          const b = assignedPartitions(this.p2) ?? [];
          return a.length > 0 && b.length > 0 && a.every((x) => !b.includes(x)) ? { a, b } : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 500, description: 'both processors owning partitions' },
      );
      return `processor-1 owns [${shared.a}], processor-2 owns [${shared.b}]`;
    });

    await this.at(0.2);
    await this.step('ingress restart mid-burst (SIGTERM, start)', async () => {
      await this.p.stop(this.p.ingress);
      const exit = JSON.stringify(this.p.ingress.lastExit);
      await this.p.start(this.p.ingress);
      return `graceful exit ${exit}, ready again`;
    });

    await this.at(0.35);
    await this.step('SIGKILL a processor mid-transaction, start it again', () => this.killMidTransaction());

    await this.at(0.5);
    await this.step(`broker outage (~${OUTAGE_MS / 1000} s)`, async () => {
      const t0 = Date.now();
      await this.p.runtime.stopKafka();
      const stoppedIn = Date.now() - t0;
      await sleep(OUTAGE_MS); // the deliberate outage
      const t1 = Date.now();
      await this.p.runtime.startKafka();
      const startedIn = Date.now() - t1;
      await pollUntil(async () => (await readyz(`http://127.0.0.1:${this.p.ports.ingress}/readyz`)) === 200, {
        timeoutMs: 180_000,
        intervalMs: 250,
        description: 'the ingress ready again after the broker returned',
      });
      return `stopped in ${(stoppedIn / 1000).toFixed(1)} s, down ${OUTAGE_MS / 1000} s, started in ${(startedIn / 1000).toFixed(1)} s, ingress ready ${((Date.now() - t1 - startedIn) / 1000).toFixed(1)} s later`;
    });

    await this.at(0.7);
    await this.step(`registry outage (~${OUTAGE_MS / 1000} s) with a processor restart`, async () => {
      await this.p.runtime.stopRegistry();
      const downAt = Date.now();
      await this.p.stop(this.p2);
      // Starts while the registry is away: schema registration at start-up must wait for it (a
      // start-up that gives up and exits is started again with back-off, and counted).
      const failedBefore = this.p.failedStartups;
      const restart = this.p.start(this.p2);
      restart.catch(() => undefined); // awaited below; handled here so an early failure is not "unhandled"
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt))); // the deliberate outage
      const t1 = Date.now();
      await this.p.runtime.startRegistry();
      const registryIn = Date.now() - t1;
      await restart;
      return `registry down ${((t1 - downAt) / 1000).toFixed(1)} s, back in ${(registryIn / 1000).toFixed(1)} s; processor-2 started during the outage, ready ${((Date.now() - t1) / 1000).toFixed(1)} s after the registry returned${this.p.failedStartups > failedBefore ? ` (after ${this.p.failedStartups - failedBefore} start-up(s) that exited)` : ''}`;
    });
    return this.steps;
  }

  /**
   * "Inside a transaction" is observed, not hoped for: the broker's last stable offset (what admin
   * ListOffsets answers, read_committed) stops at the first open transaction, while a read_uncommitted
   * reader already sees its records. After the kill the partition's transaction stays open until the
   * next owner fences it, which the step checks again.
   */
  private async killMidTransaction(): Promise<string> {
    const stateTopic = this.p.config.topics.state;
    const owned = await pollUntil(
      () => {
        const o = assignedPartitions(this.p1) ?? [];
        return o.length > 0 ? o : undefined;
      },
      { timeoutMs: 60_000, description: 'processor-1 owning partitions' },
    );
    const uncommitted = await new TopicCollector(this.p.kafka, [stateTopic], 'read_uncommitted').start();
    const maxSeen = (partition: number): bigint => {
      let max = -1n;
      for (const r of uncommitted.records)
        if (r.partition === partition && BigInt(r.offset) > max) max = BigInt(r.offset);
      return max;
    };
    const openOn = async (): Promise<{ partition: number; lso: bigint; seen: bigint } | undefined> => {
      const offsets = await this.p.admin.fetchTopicOffsets(stateTopic);
      for (const o of offsets) {
        if (!owned.includes(o.partition)) continue;
        const lso = BigInt(o.high);
        const seen = maxSeen(o.partition);
        if (seen >= lso) return { partition: o.partition, lso, seen };
      }
      return undefined;
    };
    let observed: { partition: number; lso: bigint; seen: bigint } | undefined;
    try {
      observed = await pollUntil(openOn, {
        timeoutMs: 90_000,
        intervalMs: 2,
        description: 'an open transaction of processor-1',
      }).catch(() => undefined);
      await this.p.kill(this.p1);
      const stillOpen = observed ? await openOn() : undefined;
      await this.p.start(this.p1);
      if (!observed)
        return `killed processor-1 (partitions [${owned}]) — no open transaction observed within 90 s`;
      return `killed processor-1 (partitions [${owned}]) with a transaction open on state partition ${observed.partition} (uncommitted offset ${observed.seen} ≥ LSO ${observed.lso})${stillOpen ? `; still open after the kill (partition ${stillOpen.partition})` : ''}; restarted and ready`;
    } finally {
      await uncommitted.stop();
    }
  }
}
