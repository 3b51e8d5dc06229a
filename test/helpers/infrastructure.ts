/**
 * Finds a real Kafka broker and a real Confluent-compatible schema registry for the integration tests,
 * in the order of docs/architecture.md ("Where it runs"):
 *   1. KAFKA_BROKERS and SCHEMA_REGISTRY_URL set → use them as they are;
 *   2. a container runtime answers → Testcontainers (Kafka + Apicurio images);
 *   3. the no-Docker local runtime (deploy/local; needs java and mvn);
 *   4. otherwise fail, saying what to install. Never skip.
 */
import { LOCAL_RUNTIME_VARIABLES } from '../../deploy/local/config';
import { LocalRuntime, runtimeOptionsFromEnv } from '../../deploy/local/runtime';
import { RUNTIME_VERSIONS } from '../../deploy/local/versions';

export interface TestInfrastructure {
  source: 'environment' | 'testcontainers' | 'local-runtime';
  brokers: string;
  registryUrl: string;
  kafkaVersion: string;
  registryVersion: string;
  /** Stops what this run started (nothing for 'environment' or a reused runtime). */
  stop: () => Promise<void>;
}

/** Asks the registry what it is: Apicurio answers /apis/registry/v3/system/info beside ccompat. */
export async function describeRegistry(registryUrl: string): Promise<string> {
  const root = registryUrl.replace(/\/apis\/ccompat\/v\d+$/, '');
  try {
    const res = await fetch(`${root}/apis/registry/v3/system/info`, { signal: AbortSignal.timeout(3000) });
    if (res.ok) {
      const info = (await res.json()) as { name?: string; version?: string };
      return `${info.name ?? 'Apicurio Registry'} ${info.version ?? '?'}`;
    }
  } catch {
    // not Apicurio, or not reachable on that path; fall through
  }
  return 'Confluent-compatible registry (version not reported)';
}

async function containerRuntimeAvailable(): Promise<boolean> {
  if (process.env.NYLAS_STREAM_TEST_NO_CONTAINERS === '1') return false;
  try {
    const tc = await import('testcontainers');
    await Promise.race([
      tc.getContainerRuntimeClient(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 5000)),
    ]);
    return true;
  } catch {
    return false;
  }
}

async function startContainers(): Promise<TestInfrastructure> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const kafkaImage = 'confluentinc/cp-kafka:8.1.0';
  const kafka = await new KafkaContainer(kafkaImage).withStartupTimeout(120_000).start();
  // In containers the registry is throw-away, so its default in-memory storage is acceptable here.
  const registry = await new GenericContainer(`apicurio/apicurio-registry:${RUNTIME_VERSIONS.apicurio}`)
    .withEnvironment({ APICURIO_RULES_GLOBAL_COMPATIBILITY: 'BACKWARD_TRANSITIVE' })
    .withExposedPorts(8080)
    .withWaitStrategy(Wait.forHttp('/apis/ccompat/v7/subjects', 8080).forStatusCode(200))
    .withStartupTimeout(180_000)
    .start();
  const registryUrl = `http://${registry.getHost()}:${registry.getMappedPort(8080)}/apis/ccompat/v7`;
  return {
    source: 'testcontainers',
    brokers: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    registryUrl,
    kafkaVersion: `Confluent Platform image ${kafkaImage}`,
    registryVersion: await describeRegistry(registryUrl),
    stop: async () => {
      await registry.stop();
      await kafka.stop();
    },
  };
}

async function startLocalRuntime(): Promise<TestInfrastructure> {
  const runtime = new LocalRuntime(runtimeOptionsFromEnv(process.env, { instance: 'test' }));
  const before = await runtime.status();
  const wasRunning = before.kafka.running && before.registry.running;
  await runtime.start();
  const keep = LOCAL_RUNTIME_VARIABLES.keepInfra.read(process.env);
  return {
    source: 'local-runtime',
    brokers: runtime.brokers,
    registryUrl: runtime.registryUrl,
    kafkaVersion: `Apache Kafka ${runtime.options.kafkaVersion}`,
    registryVersion: await describeRegistry(runtime.registryUrl),
    // A runtime this run did not start (or one we were asked to keep) is left running.
    stop: async () => {
      if (!wasRunning && !keep) await runtime.stop();
    },
  };
}

export async function resolveInfrastructure(): Promise<TestInfrastructure> {
  const brokers = process.env.KAFKA_BROKERS;
  const registryUrl = process.env.SCHEMA_REGISTRY_URL;
  if (brokers && registryUrl) {
    return {
      source: 'environment',
      brokers,
      registryUrl,
      kafkaVersion: 'Kafka from KAFKA_BROKERS (version not reported by the protocol)',
      registryVersion: await describeRegistry(registryUrl),
      stop: async () => undefined,
    };
  }
  if (brokers || registryUrl) {
    throw new Error(
      'Set both KAFKA_BROKERS and SCHEMA_REGISTRY_URL (or neither, to let the tests start their own).',
    );
  }
  if (await containerRuntimeAvailable()) return startContainers();
  try {
    return await startLocalRuntime();
  } catch (err) {
    throw new Error(
      'Integration tests need a real Kafka broker and schema registry, and none could be found or started.\n' +
        '  - Either set KAFKA_BROKERS and SCHEMA_REGISTRY_URL (…/apis/ccompat/v7 for Apicurio),\n' +
        '  - or run a Docker engine (Testcontainers is used when one answers),\n' +
        '  - or install Java 21+ and Maven so the local runtime can fetch Kafka and Apicurio from Maven Central.\n' +
        `Cause: ${(err as Error).message}`,
    );
  }
}
