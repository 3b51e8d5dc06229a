/**
 * What `topics create` prints: one line per topic of the plan (created or already there, with its
 * partitions, replication and configs) and the differences it found, as warnings.
 */
import type { EnsureTopicsResult, TopicSpec } from '../../lib/topics';
import { table } from './context';

export function topicsReport(
  plan: TopicSpec[],
  result: EnsureTopicsResult,
): { lines: string[]; warnings: string[] } {
  const created = new Set(result.created);
  const differing = new Set(result.differences.map((d) => d.topic));
  const rows = [['', 'topic', 'partitions', 'replication', 'configs']];
  for (const s of plan) {
    const state = created.has(s.name) ? 'created' : differing.has(s.name) ? 'differs' : 'exists';
    rows.push([
      state,
      s.name,
      String(s.partitions),
      String(s.replicationFactor),
      Object.entries(s.configs)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
    ]);
  }
  const lines = table(rows);
  lines.push(
    `${result.created.length} created, ${result.existing.length} already present, ${result.warnings.length} warning(s)`,
  );
  return { lines, warnings: result.warnings.map((w) => `warning: ${w}`) };
}
