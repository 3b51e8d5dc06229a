/**
 * The development-only commands need the simulator (simulator/) or the no-Docker local runtime
 * (deploy/local/), which the production build (tsconfig.prod.json, the image) leaves out. So they are
 * required by a path held in data, which the compiler does not follow, and only where their compiled
 * module exists. Where it does not, each of their names still answers, saying where to find it, instead
 * of commander's bare "unknown command": an operator who types `up` in the image learns why.
 */
import type { Command } from 'commander';

export interface DevelopmentModule {
  /** Path relative to this file, as require() takes it. */
  path: string;
  /** The export that registers the module's commands on the program. */
  register: string;
  /** The top-level commands it registers, answered by a stand-in where the module is absent. */
  commands: readonly string[];
}

export const INFRA_COMMANDS: DevelopmentModule = {
  path: './commands/infra',
  register: 'registerInfraCommands',
  commands: ['up', 'stop', 'infra'],
};

export const SIMULATE_COMMANDS: DevelopmentModule = {
  path: './commands/simulate',
  register: 'registerSimulateCommands',
  commands: ['simulate'],
};

export const NOT_IN_THIS_BUILD =
  'not in this image: the local runtime and simulator are in the development build (npm start from a clone)';

/** Exit code of a stand-in: a usage error, as for an invalid configuration. */
export const NOT_IN_THIS_BUILD_EXIT_CODE = 2;

/** Returns the module's exports, or undefined when the module is not in this build. */
export type ModuleLoader = (path: string) => unknown;

/**
 * Only the resolution may fail: a module that is there but fails to load (a missing dependency of its
 * own, a syntax error) is a broken build and must say so, not turn into a stand-in.
 */
export const requireIfPresent: ModuleLoader = (path) => {
  let resolved: string;
  try {
    resolved = require.resolve(path);
  } catch {
    return undefined;
  }
  return require(resolved);
};

function isRegister(value: unknown): value is (program: Command) => void {
  return typeof value === 'function';
}

function registerStandIn(program: Command, name: string): void {
  program
    .command(name, { hidden: true })
    .description(NOT_IN_THIS_BUILD)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      console.error(`nylas-stream ${name}: ${NOT_IN_THIS_BUILD}`);
      process.exitCode = NOT_IN_THIS_BUILD_EXIT_CODE;
    });
}

export function registerDevelopmentCommands(
  program: Command,
  module: DevelopmentModule,
  load: ModuleLoader = requireIfPresent,
): void {
  const exports = load(module.path);
  if (exports === undefined) {
    for (const name of module.commands) registerStandIn(program, name);
    return;
  }
  const register: unknown =
    typeof exports === 'object' && exports !== null ? Reflect.get(exports, module.register) : undefined;
  if (!isRegister(register))
    throw new Error(`${module.path} does not export a function ${module.register}(program)`);
  register(program);
}
