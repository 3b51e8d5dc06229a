/**
 * The development-only commands (cli/development-commands.ts): registered from their module where it is
 * in the build, answered by a stand-in where it is not, and a module that exists but fails to load is
 * an error, never a stand-in.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import {
  type DevelopmentModule,
  INFRA_COMMANDS,
  NOT_IN_THIS_BUILD,
  NOT_IN_THIS_BUILD_EXIT_CODE,
  registerDevelopmentCommands,
  requireIfPresent,
} from '../../../cli/development-commands';

const absent = (): undefined => undefined;

async function run(program: Command, args: string[]): Promise<{ stderr: string[]; exitCode: number }> {
  const stderr: string[] = [];
  const saved = process.exitCode;
  const spy = jest
    .spyOn(console, 'error')
    .mockImplementation((line: unknown) => void stderr.push(String(line)));
  process.exitCode = 0;
  try {
    program.exitOverride();
    await program.parseAsync(['node', 'nylas-stream', ...args]);
    return { stderr, exitCode: Number(process.exitCode ?? 0) };
  } finally {
    spy.mockRestore();
    process.exitCode = saved;
  }
}

describe('registerDevelopmentCommands', () => {
  it('answers each command of an absent module with where to find it, exit code 2, hidden from --help', async () => {
    const program = new Command('nylas-stream');
    registerDevelopmentCommands(program, INFRA_COMMANDS, absent);
    expect(program.commands.map((c) => c.name())).toEqual(['up', 'stop', 'infra']);
    expect(program.helpInformation()).not.toMatch(/\bup\b|\bstop\b|\binfra\b/);
    for (const args of [['up', '--demo', '--once'], ['stop'], ['infra', 'status'], ['up', '--help']]) {
      const r = await run(program, args);
      expect([args, r.exitCode, r.stderr]).toEqual([
        args,
        NOT_IN_THIS_BUILD_EXIT_CODE,
        [`nylas-stream ${args[0]}: ${NOT_IN_THIS_BUILD}`],
      ]);
    }
  });

  it("registers a present module's commands through its register export", () => {
    const module: DevelopmentModule = { path: './fake', register: 'registerFake', commands: ['fake'] };
    const loaded: string[] = [];
    const program = new Command('nylas-stream');
    registerDevelopmentCommands(program, module, (path) => {
      loaded.push(path);
      return { registerFake: (p: Command) => p.command('fake').description('the real one') };
    });
    expect(loaded).toEqual(['./fake']);
    expect(program.commands.map((c) => [c.name(), c.description()])).toEqual([['fake', 'the real one']]);
  });

  it('fails on a present module without the register export (a broken build, not a missing command)', () => {
    const module: DevelopmentModule = { path: './fake', register: 'registerFake', commands: ['fake'] };
    expect(() =>
      registerDevelopmentCommands(new Command(), module, () => ({ other: () => undefined })),
    ).toThrow('./fake does not export a function registerFake(program)');
  });
});

describe('requireIfPresent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nylas-stream-dev-commands-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is undefined for a module that is not there', () => {
    expect(requireIfPresent(join(dir, 'not-built'))).toBeUndefined();
  });

  it('returns the exports of a module that is there', () => {
    writeFileSync(join(dir, 'present.js'), 'exports.register = function register() {};\n');
    const exports = requireIfPresent(join(dir, 'present'));
    expect(typeof exports === 'object' && exports !== null && 'register' in exports).toBe(true);
  });

  it('throws when the module is there but one of its own imports is missing', () => {
    writeFileSync(join(dir, 'broken.js'), "require('./missing-dependency');\n");
    expect(() => requireIfPresent(join(dir, 'broken'))).toThrow(/missing-dependency/);
  });
});
