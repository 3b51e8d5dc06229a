/**
 * `schemas register` and `schemas check`: provision the Avro domain-event contract in the registry
 * (subject `<topic>-value`, BACKWARD_TRANSITIVE) and refuse an incompatible change before it ships.
 * Both print one line per subject; an incompatible schema fails with SCHEMA_INCOMPATIBLE (exit code 1).
 */
import type { Command } from 'commander';
import { type Env, loadCommonConfig } from '../../lib/config';
import { createSchemaRegistry } from '../../lib/schema-registry';
import {
  checkDomainSchemas,
  loadDomainSchemas,
  registerDomainSchemas,
  type SchemaCheckResult,
  SchemaIncompatibleError,
  subjectFor,
} from '../../schemas/index';

function printResults(results: SchemaCheckResult[], print: (line: string) => void): void {
  for (const r of results) {
    const detail = r.messages.length > 0 ? `: ${r.messages.join('; ')}` : '';
    print(`${r.subject.padEnd(36)} ${r.status}${detail}  (schemas/${r.schema}.avsc)`);
  }
}

/** `env` and `print` are injectable so tests can point the command at their own topics. */
export function registerSchemasCommands(
  program: Command,
  env: Env = process.env,
  print: (line: string) => void = (l) => console.log(l),
): void {
  const schemas = program.command('schemas').description('the Avro domain-event schemas in schemas/*.avsc');

  schemas
    .command('register')
    .description('register every domain schema under <topic>-value with BACKWARD_TRANSITIVE (idempotent)')
    .action(async () => {
      const config = loadCommonConfig(env);
      const domain = loadDomainSchemas();
      const ids = await registerDomainSchemas(createSchemaRegistry(config.registry), config.topics, domain);
      for (const [topic, id] of ids) print(`${subjectFor(topic).padEnd(36)} id ${id}`);
    });

  schemas
    .command('check')
    .description('ask the registry whether every local schema is compatible; fails on an incompatible change')
    .action(async () => {
      const config = loadCommonConfig(env);
      try {
        printResults(await checkDomainSchemas(config.registry, config.topics, loadDomainSchemas()), print);
      } catch (err) {
        if (err instanceof SchemaIncompatibleError) printResults(err.results, print);
        throw err;
      }
    });
}
