/**
 * Runs the operations commands in-process, the way a user would from a shell: arguments, an
 * environment (merged over the test's, restored afterwards) and captured stdout/stderr/exit code.
 *
 * The program holds the operations commands exactly as cli/index.ts registers them (same register
 * functions), without the other commands, so these tests do not depend on code they do not exercise;
 * test/unit/cli/program.test.ts checks that cli/index.ts registers them.
 */
import { Command } from 'commander';
import { registerBackfillCommand } from '../../cli/commands/backfill';
import { registerRedriveCommand } from '../../cli/commands/redrive';
import { registerReplayCommand } from '../../cli/commands/replay';
import { registerTailCommand } from '../../cli/commands/tail';
import { registerTopicsCommands } from '../../cli/commands/topics';
import { registerWebhooksCommands } from '../../cli/commands/webhooks';
import { NylasStreamError } from '../../lib/errors';

export const OPERATIONS_COMMANDS = ['topics', 'tail', 'replay', 'redrive', 'backfill', 'webhooks'] as const;

function operationsProgram(): Command {
  const program = new Command('nylas-stream');
  registerTopicsCommands(program);
  registerTailCommand(program);
  registerReplayCommand(program);
  registerRedriveCommand(program);
  registerBackfillCommand(program);
  registerWebhooksCommands(program);
  return program;
}

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
    const program = operationsProgram();
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
