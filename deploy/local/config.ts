/**
 * The variables of the no-Docker local runtime (`npm start`, `nylas-stream up`/`infra`, the test
 * suite's fallback), declared like the services' (lib/config/declare.ts) so docs/configuration.md
 * lists them. Development only: the production image leaves deploy/local out.
 */
import { type ConfigSection, flag, integer, text } from '../../lib/config';
import { RUNTIME_VERSIONS } from './versions';

const LOCAL = ['cli'] as const;

/** Port defaults per instance: any instance but "default" (the test suite's "test", private ones) gets
 * the second set, so `npm test` never disturbs a running `npm start`. */
export const INSTANCE_PORTS = {
  default: { kafka: 19092, controller: 19093, registry: 18081, management: 19000 },
  other: { kafka: 29092, controller: 29093, registry: 28081, management: 29000 },
} as const;

/** A cluster's broker i (1-based) listens on the instance's Kafka and controller ports + PORT_STEP·(i−1). */
export const BROKER_PORT_STEP = 10;
/** A development machine has no use for more JVMs than this; it also keeps every broker's ports inside
 * the instance's own +0…+49 range. */
export const MAX_BROKERS = 5;

type PortName = keyof (typeof INSTANCE_PORTS)['default'];

function port(name: string, which: PortName, what: string) {
  return integer(name, {
    default: undefined,
    defaultText: `\`${INSTANCE_PORTS.default[which]}\` (test instance: \`${INSTANCE_PORTS.other[which]}\`)`,
    min: 1,
    max: 65535,
    description: `loopback port of ${what}`,
    readBy: LOCAL,
  });
}

function version(name: string, fallback: string, what: string) {
  return text(name, { default: fallback, description: `${what} version to fetch`, readBy: LOCAL });
}

export const LOCAL_RUNTIME_VARIABLES = {
  instance: text('LOCAL_RUNTIME_INSTANCE', {
    default: 'default',
    description:
      'instance name (separate data, logs, PID files and port defaults); the test suite uses `test`',
    readBy: LOCAL,
  }),
  cacheDir: text('NYLAS_STREAM_CACHE_DIR', {
    default: undefined,
    defaultText: '`$XDG_CACHE_HOME/nylas-stream` (`~/.cache/nylas-stream`)',
    description: 'downloaded jars, instance data and logs',
    readBy: LOCAL,
    accepts: 'directory',
  }),
  java: text('NYLAS_STREAM_JAVA', {
    default: undefined,
    defaultText: 'found on the machine',
    description: 'explicit `java` (21+) for Kafka and the registry',
    readBy: LOCAL,
    accepts: 'file path',
  }),
  mvn: text('NYLAS_STREAM_MVN', {
    default: 'mvn',
    description: 'explicit `mvn` (fetches Kafka and Apicurio from Maven Central into the cache once)',
    readBy: LOCAL,
    accepts: 'file path',
  }),
  brokerCount: integer('LOCAL_KAFKA_BROKER_COUNT', {
    default: undefined,
    defaultText: '`1`, or what the instance was last started with',
    min: 1,
    max: MAX_BROKERS,
    description:
      'Kafka brokers of the instance: `1`, or `3` for a cluster with replication 3 and `min.insync.replicas=2` (`up --brokers 3`); broker i listens on the Kafka and controller ports + 10·(i−1)',
    readBy: LOCAL,
  }),
  kafkaPort: port('LOCAL_KAFKA_PORT', 'kafka', 'the Kafka broker (the first one of a cluster)'),
  controllerPort: port(
    'LOCAL_KAFKA_CONTROLLER_PORT',
    'controller',
    'the KRaft controller (the first one of a cluster)',
  ),
  registryPort: port('LOCAL_REGISTRY_PORT', 'registry', 'the schema registry'),
  registryManagementPort: port(
    'LOCAL_REGISTRY_MANAGEMENT_PORT',
    'management',
    "the registry's management API",
  ),
  kafkaVersion: version('LOCAL_KAFKA_VERSION', RUNTIME_VERSIONS.kafka, 'Apache Kafka'),
  log4j2Version: version('LOCAL_LOG4J2_VERSION', RUNTIME_VERSIONS.log4j2, 'Log4j 2'),
  apicurioVersion: version('LOCAL_APICURIO_VERSION', RUNTIME_VERSIONS.apicurio, 'Apicurio Registry'),
  kafkaHeap: text('LOCAL_KAFKA_HEAP', {
    default: '512m',
    description: "Kafka's JVM heap (each broker's, in a cluster)",
    readBy: LOCAL,
  }),
  registryHeap: text('LOCAL_REGISTRY_HEAP', {
    default: '384m',
    description: "the registry's JVM heap",
    readBy: LOCAL,
  }),
  keepInfra: flag('NYLAS_STREAM_KEEP_INFRA', {
    default: false,
    description: 'tests leave the runtime they started running',
    readBy: ['tests'],
  }),
};

export const LOCAL_RUNTIME_SECTION: ConfigSection = {
  title: 'Local runtime',
  intro:
    'The no-Docker Kafka and schema registry of `npm start`, `nylas-stream up`/`infra` and `npm test` (development only; not in the production image).',
  prefixes: [],
  variables: Object.values(LOCAL_RUNTIME_VARIABLES),
};
