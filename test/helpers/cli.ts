/**
 * Runs the real `nylas-stream` program in-process, the way a user would from a shell: arguments, an
 * environment (merged over the test's, restored afterwards) and captured stdout/stderr/exit code.
 */
import { buildProgram } from '../../cli/index';
import { NylasStreamError } from '../../lib/errors';

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** The error the command threw, if it threw. */
  error: unknown;
}

export async function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<CliResult> {
  const saved = { ...process.env };
  const savedExitCode = process.exitCode;
  const out: string[] = [];
  const err: string[] = [];
  const fmt = (a: unknown[]) => a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ');
  const spies = [
    jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(fmt(a))),
    jest.spyOn(console, 'warn').mockImplementation((...a: unknown[]) => void err.push(fmt(a))),
    jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(fmt(a))),
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk).replace(/\n$/, ''));
      return true;
    }),
  ];
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  process.exitCode = 0;
  let error: unknown;
  try {
    const program = buildProgram();
    program.exitOverride();
    await program.parseAsync(['node', 'nylas-stream', ...args]);
  } catch (e) {
    error = e;
    err.push(e instanceof Error ? e.message : String(e));
    // As main() does: a configuration error is exit code 2, anything else 1.
    process.exitCode = e instanceof NylasStreamError && e.code === 'CONFIG_INVALID' ? 2 : 1;
  } finally {
    for (const s of spies) s.mockRestore();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = savedExitCode;
  return { stdout: out.join('\n'), stderr: err.join('\n'), exitCode, error };
}
