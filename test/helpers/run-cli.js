#!/usr/bin/env node
/**
 * Runs one `nylas-stream` subcommand from its TypeScript sources without a build, for tests that need
 * the real command in a child process (SIGTERM, exit codes):
 *
 *   node test/helpers/run-cli.js ingress
 *
 * It registers only that command's module (cli/commands/<name>.ts) on a fresh commander program, so a
 * test of one command does not depend on every other command compiling. Transpile-only (each .ts
 * file is compiled on require); type-checking is `npm run typecheck`'s job.
 */
'use strict';
const path = require('node:path');
const { Command } = require('commander');
require('./ts-require');

const name = process.argv[2];
if (!name || !/^[a-z-]+$/.test(name)) {
  console.error('usage: node test/helpers/run-cli.js <command> [args…]');
  process.exit(2);
}
const commands = require(path.join(__dirname, '..', '..', 'cli', 'commands', `${name}.ts`));
const program = new Command('nylas-stream');
for (const [exported, register] of Object.entries(commands)) {
  if (exported.startsWith('register') && typeof register === 'function') register(program);
}
program.parseAsync(process.argv).catch((err) => {
  console.error(`nylas-stream: ${err?.code ? `${err.code}: ` : ''}${err?.message}`);
  process.exit(err?.code === 'CONFIG_INVALID' ? 2 : 1);
});
