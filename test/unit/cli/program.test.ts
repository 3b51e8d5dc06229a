/**
 * The operations commands are registered in the real program with their options (the CLI tests run
 * them through the same register functions).
 */
import { buildProgram } from '../../../cli/index';
import { OPERATIONS_COMMANDS } from '../../helpers/cli';

describe('nylas-stream program', () => {
  const program = buildProgram();
  const command = (name: string) => program.commands.find((c) => c.name() === name);

  it('registers topics, tail, replay, redrive, backfill and webhooks', () => {
    for (const name of OPERATIONS_COMMANDS) expect([name, command(name) !== undefined]).toEqual([name, true]);
    expect(command('topics')?.commands.map((c) => c.name())).toEqual(['create']);
    expect(command('webhooks')?.commands.map((c) => c.name())).toEqual([
      'create',
      'list',
      'get',
      'update',
      'delete',
      'rotate-secret',
      'retire-secrets',
      'test',
    ]);
  });

  it('registers the development commands themselves where their modules are (here: the source tree)', () => {
    expect(command('up')?.options.map((o) => o.long)).toEqual(
      expect.arrayContaining(['--demo', '--demo-count', '--once', '--infra-only']),
    );
    expect(command('stop')?.description()).toMatch(/stop the local Kafka/);
    expect(command('infra')?.commands.map((c) => c.name())).toEqual(['status']);
    expect(command('simulate')?.commands.map((c) => c.name())).toEqual([
      'serve',
      'send',
      'scenarios',
      'mock',
    ]);
  });

  it('replay has the options of the contract', () => {
    const flags = command('replay')?.options.map((o) => o.long);
    expect(flags).toEqual(
      expect.arrayContaining([
        '--group',
        '--topic',
        '--to-datetime',
        '--to-earliest',
        '--to-latest',
        '--shift-by',
        '--execute',
        '--reset-state',
      ]),
    );
    expect(command('tail')?.options.map((o) => o.long)).toEqual(
      expect.arrayContaining(['--from-beginning', '--grant', '--follow']),
    );
    expect(command('redrive')?.options.map((o) => o.long)).toEqual(
      expect.arrayContaining([
        '--from',
        '--filter',
        '--reason',
        '--grant',
        '--since',
        '--until',
        '--execute',
      ]),
    );
    expect(command('backfill')?.options.map((o) => o.long)).toEqual([
      '--grant',
      '--all-grants',
      '--since',
      '--until',
      '--objects',
      '--execute',
      '--status',
      '--json',
    ]);
  });
});
