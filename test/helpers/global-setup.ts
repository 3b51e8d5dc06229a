import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveInfrastructure } from './infrastructure';

declare global {
  // Jest keeps globals from globalSetup for globalTeardown (not for tests; they get process.env).
  var __nylasStreamInfraStop: (() => Promise<void>) | undefined;
}

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const infra = await resolveInfrastructure();
  process.env.KAFKA_BROKERS = infra.brokers;
  process.env.SCHEMA_REGISTRY_URL = infra.registryUrl;
  process.env.NYLAS_STREAM_TEST_KAFKA_VERSION = infra.kafkaVersion;
  process.env.NYLAS_STREAM_TEST_REGISTRY_VERSION = infra.registryVersion;
  // Processors started by the tests keep their state stores in a directory of this run, not in the
  // working tree; test/helpers/processor-harness.ts gives each processor its own below it.
  process.env.PROCESSOR_STATE_DIR ??= mkdtempSync(join(tmpdir(), 'nylas-stream-test-state-'));
  globalThis.__nylasStreamInfraStop = infra.stop;
  console.log(
    `\nintegration infrastructure (${infra.source}, ready in ${((Date.now() - started) / 1000).toFixed(1)} s):\n` +
      `  broker:   ${infra.kafkaVersion} at ${infra.brokers}\n` +
      `  registry: ${infra.registryVersion} at ${infra.registryUrl}\n`,
  );
}
