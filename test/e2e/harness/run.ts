/**
 * What every end-to-end fault run does after its traffic and faults, shared by chaos.test.ts and
 * failover.test.ts: the processors' lag on the raw topic, waiting until they have drained it, reading
 * the committed outputs and judging them against the oracle (verdict.ts), and the figures that must be 0.
 */
import { pollUntil } from '../../helpers/kafka';
import { type PipelineOutputs, readOutputs } from './outputs';
import { E2E_SECRET, type E2ePipeline } from './pipeline';
import type { TrafficRun } from './traffic';
import { judge, type Verdict } from './verdict';

/** Raw records not yet committed by the processor group (sum over partitions). */
export async function rawLag(p: E2ePipeline): Promise<number> {
  const raw = p.config.topics.raw;
  const [ends, committed] = await Promise.all([
    p.admin.fetchTopicOffsets(raw),
    p.admin.fetchOffsets({ groupId: p.groupId, topics: [raw] }),
  ]);
  const at = new Map(committed[0]?.partitions.map((x) => [x.partition, Number(x.offset)]) ?? []);
  let lag = 0;
  for (const e of ends) lag += Number(e.high) - Math.max(0, at.get(e.partition) ?? 0);
  return lag;
}

/** Drained: every raw record processed and committed (group offsets at the raw topic's end for 3 s). */
export async function waitUntilDrained(p: E2ePipeline, timeoutMs = 900_000): Promise<void> {
  let stableSince = 0;
  await pollUntil(
    async () => {
      if ((await rawLag(p)) !== 0) {
        stableSince = 0;
        return false;
      }
      stableSince ||= Date.now();
      return Date.now() - stableSince > 3000;
    },
    { timeoutMs, intervalMs: 1000, description: 'the processors to drain the raw topic' },
  );
}

/** Reads the domain topics, the DLQ and the raw topic (read_committed) and judges them. */
export async function judgeRun(
  p: E2ePipeline,
  run: TrafficRun,
): Promise<{ verdict: Verdict; notFoundServed: Map<string, number>; outputs: PipelineOutputs }> {
  const outputs = await readOutputs(p.kafka, p.admin, p.config.topics, p.runtime.registryUrl, E2E_SECRET);
  const notFoundServed = new Map<string, number>();
  const unauthorizedServed = new Map<string, number>();
  for (const r of p.api.requests) {
    const m = /\/messages\/([^/]+)$/.exec(r.path);
    if (r.method !== 'GET' || !m?.[1]) continue;
    const served = r.status === 404 ? notFoundServed : r.status === 401 ? unauthorizedServed : undefined;
    const id = decodeURIComponent(m[1]);
    served?.set(id, (served.get(id) ?? 0) + 1);
  }
  const verdict = judge({
    report: run.report,
    expectations: run.expectations,
    attempts: run.attempts,
    retryDelaysMs: run.retryDelaysMs,
    outputs,
    injected: run.injected,
    notFoundServed,
    unauthorizedServed,
  });
  return { verdict, notFoundServed, outputs };
}

/** The figures a correct run has at 0, by name (what the tests compare with NO_LOSS). */
export function lossFigures(v: Verdict) {
  return {
    lost: v.lost,
    duplicated: v.duplicated,
    nonMonotone: v.nonMonotone,
    finalStateMismatches: v.finalMismatches,
    retryRuleViolations: v.retryRuleViolations,
    unsignedRawWrites: v.unsignedRawWrites,
    unpredictedDeadLetters: v.unpredictedDeadLetters,
  };
}

export const NO_LOSS: ReturnType<typeof lossFigures> = {
  lost: 0,
  duplicated: 0,
  nonMonotone: 0,
  finalStateMismatches: 0,
  retryRuleViolations: 0,
  unsignedRawWrites: 0,
  unpredictedDeadLetters: 0,
};
