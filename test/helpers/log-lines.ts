/** Reading a service's JSON log file (pino) by message: the tests' processor children and the benchmarks. */
import { existsSync, readFileSync } from 'node:fs';
import { isObj } from '../../lib/json';

/** The JSON log lines of a log file with the given `msg` (other lines, and text that is not JSON, skipped). */
export function logLines(logFile: string, msg: string): Record<string, unknown>[] {
  return jsonLogEntries(logFile, (entry) => entry.msg === msg);
}

/** The JSON log lines of a log file that `keep` accepts (text that is not JSON skipped). */
export function jsonLogEntries(
  logFile: string,
  keep: (entry: Record<string, unknown>) => boolean,
): Record<string, unknown>[] {
  if (!existsSync(logFile)) return [];
  const out: Record<string, unknown>[] = [];
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    if (isObj(parsed) && keep(parsed)) out.push(parsed);
  }
  return out;
}
