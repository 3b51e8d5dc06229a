/**
 * The `nylas-stream` command. Each subcommand lives in cli/commands/<name>.ts and registers itself
 * here; configuration errors become exit code 2 with the variable named, anything else exit code 1.
 * `up`, `stop`, `infra` and `simulate` are registered only where the development build has them (the
 * production image has neither the simulator nor the local runtime): cli/development-commands.ts.
 */
import { Command } from 'commander';
import { NylasStreamError } from '../lib/errors';
import { registerBackfillCommand } from './commands/backfill';
import { registerIngressCommand } from './commands/ingress';
import { registerProcessorCommand } from './commands/processor';
import { registerRedriveCommand } from './commands/redrive';
import { registerReplayCommand } from './commands/replay';
import { registerSchemasCommands } from './commands/schemas';
import { registerTailCommand } from './commands/tail';
import { registerTopicsCommands } from './commands/topics';
import { registerWebhooksCommands } from './commands/webhooks';
import { INFRA_COMMANDS, registerDevelopmentCommands, SIMULATE_COMMANDS } from './development-commands';
import { guardStdio } from './stdio';

export function buildProgram(): Command {
  const program = new Command('nylas-stream')
    .description('Nylas v3 webhook notifications → correct, replayable Kafka streams')
    .showHelpAfterError();
  registerDevelopmentCommands(program, INFRA_COMMANDS);
  registerIngressCommand(program);
  registerProcessorCommand(program);
  registerTopicsCommands(program);
  registerTailCommand(program);
  registerReplayCommand(program);
  registerRedriveCommand(program);
  registerBackfillCommand(program);
  registerWebhooksCommands(program);
  registerSchemasCommands(program);
  registerDevelopmentCommands(program, SIMULATE_COMMANDS);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  guardStdio();
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof NylasStreamError) {
      console.error(`nylas-stream: ${err.code}: ${err.message}`);
      process.exitCode = err.code === 'CONFIG_INVALID' ? 2 : 1;
    } else {
      console.error('nylas-stream:', err);
      process.exitCode = 1;
    }
    throw err;
  }
}

if (require.main === module) {
  main(process.argv).catch(() => undefined);
}
