/**
 * The services' own log lines around a moment, for a failure's report: in CI the harness tears the logs
 * down with the instance, and a duplicate written during a broker's stop (test/e2e/failover.test.ts) is
 * explained only by what kafkajs and the processor logged then.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { jsonLogEntries } from '../../helpers/log-lines';

export interface TimeWindow {
  from: number;
  to: number;
}

/** Fields worth a line: what happened, where, and kafkajs's retry state. */
const FIELDS = ['msg', 'error', 'broker', 'retryCount', 'retryTime', 'partition', 'partitions', 'topic'];

function compact(entry: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const f of FIELDS) {
    const v = entry[f];
    if (v !== undefined) parts.push(`${f}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  const err = entry.err as { type?: string; message?: string } | undefined;
  if (err?.message) parts.push(`err=${err.type ?? ''}: ${err.message}`);
  return parts.join(' ').slice(0, 400);
}

/**
 * Warnings and errors of the processors' logs (`processor-*.log` in `logDir`) inside any of `windows`, in
 * time order, at most `max` of them: "<time> <service> <fields>".
 */
export function processorLogLinesIn(logDir: string, windows: readonly TimeWindow[], max = 80): string[] {
  if (!existsSync(logDir) || windows.length === 0) return [];
  const found: Array<{ at: number; line: string }> = [];
  const warnOrError = (entry: Record<string, unknown>) => entry.level === 'warn' || entry.level === 'error';
  for (const file of readdirSync(logDir).filter((f) => /^processor-\d+\.log$/.test(f))) {
    for (const entry of jsonLogEntries(join(logDir, file), warnOrError)) {
      const at = Date.parse(String(entry.time));
      if (!windows.some((w) => at >= w.from && at <= w.to)) continue;
      found.push({
        at,
        line: `${new Date(at).toISOString().slice(11, 23)} ${file.replace('.log', '')} ${compact(entry)}`,
      });
    }
  }
  found.sort((a, b) => a.at - b.at);
  const lines = found.map((f) => f.line);
  return lines.length <= max ? lines : [...lines.slice(0, max), `… and ${lines.length - max} more`];
}
