/**
 * The no-Docker runtime: a real Apache Kafka broker (KRaft, combined broker+controller) and a real
 * Apicurio Registry (Confluent-compatible API, schemas stored in Kafka via `kafkasql`), both fetched
 * from Maven Central into a cache and run as local JVM processes bound to 127.0.0.1.
 *
 * Several instances can live side by side (each has its own name, ports, data and logs): `npm start`
 * uses "default", the test suite "test", and fault-injection tests start private ones they can stop.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { type Env, optionalStr } from '../../lib/config';
import { INSTANCE_PORTS, LOCAL_RUNTIME_VARIABLES } from './config';
import { ensureApicurio, ensureKafkaLibs } from './fetch';
import { findJava, findMaven, type JavaInstall } from './java';
import {
  killProcess,
  type ManagedProcess,
  runningPid,
  spawnDetached,
  stopProcess,
  waitUntilReady,
} from './process';
import { MIN_JAVA, RUNTIME_VERSIONS } from './versions';

const run = promisify(execFile);

export interface LocalRuntimeOptions {
  /** Instance name; separates data, logs and PID files. */
  instance: string;
  cacheDir: string;
  host: string;
  kafkaPort: number;
  controllerPort: number;
  registryPort: number;
  registryManagementPort: number;
  kafkaVersion: string;
  log4j2Version: string;
  apicurioVersion: string;
  kafkaHeap: string;
  registryHeap: string;
  /** Explicit java for both (NYLAS_STREAM_JAVA); otherwise the newest suitable JDK is found. */
  java: string | undefined;
  log: (line: string) => void;
}

export function defaultCacheDir(env: Env = process.env): string {
  return (
    LOCAL_RUNTIME_VARIABLES.cacheDir.read(env) ??
    join(optionalStr(env, 'XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'nylas-stream')
  );
}

/** Options from the environment (LOCAL_* variables), with per-instance port defaults. */
export function runtimeOptionsFromEnv(
  env: Env = process.env,
  overrides: Partial<LocalRuntimeOptions> = {},
): LocalRuntimeOptions {
  const v = LOCAL_RUNTIME_VARIABLES;
  const instance = overrides.instance ?? v.instance.read(env);
  const base = instance === 'default' ? INSTANCE_PORTS.default : INSTANCE_PORTS.other;
  return {
    instance,
    cacheDir: defaultCacheDir(env),
    host: '127.0.0.1',
    kafkaPort: v.kafkaPort.read(env) ?? base.kafka,
    controllerPort: v.controllerPort.read(env) ?? base.controller,
    registryPort: v.registryPort.read(env) ?? base.registry,
    registryManagementPort: v.registryManagementPort.read(env) ?? base.management,
    kafkaVersion: v.kafkaVersion.read(env),
    log4j2Version: v.log4j2Version.read(env),
    apicurioVersion: v.apicurioVersion.read(env),
    kafkaHeap: v.kafkaHeap.read(env),
    registryHeap: v.registryHeap.read(env),
    java: v.java.read(env),
    log: (line) => console.error(`[local-runtime] ${line}`),
    ...overrides,
  };
}

export interface RuntimeStatus {
  instance: string;
  kafka: { running: boolean; pid: number | undefined; brokers: string; version: string; log: string };
  registry: { running: boolean; pid: number | undefined; url: string; version: string; log: string };
}

const LOG4J2 = `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = OUT
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = info
`;

export class LocalRuntime {
  readonly options: LocalRuntimeOptions;
  readonly dir: string;
  readonly kafkaProc: ManagedProcess;
  readonly registryProc: ManagedProcess;

  constructor(options: LocalRuntimeOptions) {
    this.options = options;
    this.dir = join(options.cacheDir, 'instances', options.instance);
    this.kafkaProc = {
      name: 'kafka',
      pidFile: join(this.dir, 'kafka.pid'),
      logFile: join(this.dir, 'logs', 'kafka.log'),
      marker: `-Dnylas.stream.instance=${options.instance}.kafka`,
    };
    this.registryProc = {
      name: 'registry',
      pidFile: join(this.dir, 'registry.pid'),
      logFile: join(this.dir, 'logs', 'registry.log'),
      marker: `-Dnylas.stream.instance=${options.instance}.registry`,
    };
  }

  get brokers(): string {
    return `${this.options.host}:${this.options.kafkaPort}`;
  }

  /** The Confluent-compatible base URL, as SCHEMA_REGISTRY_URL expects it. */
  get registryUrl(): string {
    return `http://${this.options.host}:${this.options.registryPort}/apis/ccompat/v7`;
  }

  /** Fetches what is missing, then starts whatever is not running, and waits until both are ready. */
  async start(): Promise<RuntimeStatus> {
    await this.startKafka();
    await this.startRegistry();
    return this.status();
  }

  async startKafka(): Promise<void> {
    const o = this.options;
    const java = findJava(MIN_JAVA.kafka, `Apache Kafka ${o.kafkaVersion}`, process.env, o.java);
    if (runningPid(this.kafkaProc) === undefined) {
      const libs = await ensureKafkaLibs(this.fetchOptions(), o.kafkaVersion, o.log4j2Version);
      const cp = join(libs, '*');
      const props = this.writeKafkaConfig();
      await this.formatStorage(java, cp, props);
      o.log(
        `starting Kafka ${o.kafkaVersion} on ${this.brokers} (java ${java.version}, log ${this.kafkaProc.logFile})`,
      );
      spawnDetached(this.kafkaProc, java.path, [
        `-Xms${o.kafkaHeap}`,
        `-Xmx${o.kafkaHeap}`,
        '-server',
        '-XX:+UseG1GC',
        '-XX:MaxGCPauseMillis=20',
        '-Djava.awt.headless=true',
        this.kafkaProc.marker,
        `-Dlog4j2.configurationFile=${join(this.dir, 'log4j2.properties')}`,
        '-cp',
        cp,
        'kafka.Kafka',
        props,
      ]);
    }
    await waitUntilReady(this.kafkaProc, () => this.kafkaAnswers(), 90_000);
  }

  async startRegistry(): Promise<void> {
    const o = this.options;
    const java = findJava(MIN_JAVA.apicurio, `Apicurio Registry ${o.apicurioVersion}`, process.env, o.java);
    if (runningPid(this.registryProc) === undefined) {
      const home = await ensureApicurio(this.fetchOptions(), o.apicurioVersion);
      o.log(
        `starting Apicurio Registry ${o.apicurioVersion} on ${this.registryUrl} (java ${java.version}, log ${this.registryProc.logFile})`,
      );
      spawnDetached(this.registryProc, java.path, [
        `-Xmx${o.registryHeap}`,
        // The registry serves a handful of requests; a quick JIT start beats peak throughput here.
        '-XX:TieredStopAtLevel=1',
        '-XX:+UseSerialGC',
        this.registryProc.marker,
        `-Dquarkus.http.host=${o.host}`,
        `-Dquarkus.http.port=${o.registryPort}`,
        `-Dquarkus.management.host=${o.host}`,
        `-Dquarkus.management.port=${o.registryManagementPort}`,
        // Schemas live in Kafka, not in memory: a registry that forgot its ids on restart would make
        // every record already written undecodable (docs/architecture.md, "Where it runs").
        '-Dapicurio.storage.kind=kafkasql',
        `-Dapicurio.kafkasql.bootstrap.servers=${this.brokers}`,
        // @kafkajs/confluent-schema-registry's register() reads GET /config/{subject} and refuses to
        // go on when it differs from the level it was asked for; a global rule equal to ours makes
        // Apicurio answer exactly what the library expects.
        '-Dapicurio.rules.global.compatibility=BACKWARD_TRANSITIVE',
        '-Dquarkus.log.level=WARN',
        '-Dquarkus.log.category."io.quarkus".level=INFO',
        '-jar',
        join(home, 'quarkus-run.jar'),
      ]);
    }
    await waitUntilReady(this.registryProc, () => this.registryAnswers(), 180_000);
  }

  async stop(): Promise<{ kafka: string; registry: string }> {
    // Registry first: it is a Kafka client and would spin reconnecting to a stopped broker.
    const registry = await stopProcess(this.registryProc);
    const kafka = await stopProcess(this.kafkaProc, 30_000);
    return { kafka, registry };
  }

  async stopKafka(): Promise<void> {
    await stopProcess(this.kafkaProc, 30_000);
  }

  async stopRegistry(): Promise<void> {
    await stopProcess(this.registryProc);
  }

  /** Kills the broker without a clean shutdown (fault-injection tests). */
  async killKafka(): Promise<void> {
    await killProcess(this.kafkaProc);
  }

  /** Removes this instance's data and logs (tests use it for throw-away instances). */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async status(): Promise<RuntimeStatus> {
    const o = this.options;
    const kPid = runningPid(this.kafkaProc);
    const rPid = runningPid(this.registryProc);
    return {
      instance: o.instance,
      kafka: {
        running: kPid !== undefined && (await this.kafkaAnswers()),
        pid: kPid,
        brokers: this.brokers,
        version: o.kafkaVersion,
        log: this.kafkaProc.logFile,
      },
      registry: {
        running: rPid !== undefined && (await this.registryAnswers()),
        pid: rPid,
        url: this.registryUrl,
        version: o.apicurioVersion,
        log: this.registryProc.logFile,
      },
    };
  }

  /** Ready means the broker answers a metadata request, not merely that its port is open. */
  async kafkaAnswers(): Promise<boolean> {
    const admin = new Kafka({
      clientId: 'nylas-stream-runtime-probe',
      brokers: [this.brokers],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 2000,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0 && cluster.controller !== null;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Ready means the Confluent API answers, which with kafkasql also means the journal is loaded. */
  async registryAnswers(): Promise<boolean> {
    try {
      const res = await fetch(`${this.registryUrl}/subjects`, { signal: AbortSignal.timeout(2000) });
      return res.status === 200;
    } catch {
      return false;
    }
  }

  private fetchOptions() {
    return {
      cacheDir: this.options.cacheDir,
      mvn: findMaven(),
      dependencyPlugin: RUNTIME_VERSIONS.dependencyPlugin,
      log: this.options.log,
    };
  }

  private writeKafkaConfig(): string {
    const o = this.options;
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    const props = join(this.dir, 'server.properties');
    const lines = [
      'process.roles=broker,controller',
      'node.id=1',
      // A static quorum needs no --standalone at format time and works on 3.9 and 4.x alike.
      `controller.quorum.voters=1@${o.host}:${o.controllerPort}`,
      `listeners=PLAINTEXT://${o.host}:${o.kafkaPort},CONTROLLER://${o.host}:${o.controllerPort}`,
      `advertised.listeners=PLAINTEXT://${o.host}:${o.kafkaPort}`,
      'inter.broker.listener.name=PLAINTEXT',
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${join(this.dir, 'kafka-data')}`,
      'num.partitions=1',
      // A single broker: every internal topic must accept replication factor 1.
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=3',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      // Tests and demos join groups constantly; the default 3 s delay would dominate their run time.
      'group.initial.rebalance.delay.ms=0',
      // Our own topics are created explicitly (`nylas-stream topics create`); Apicurio creates its journal.
      'auto.create.topics.enable=true',
    ];
    writeFileSync(props, `${lines.join('\n')}\n`);
    writeFileSync(join(this.dir, 'log4j2.properties'), LOG4J2);
    return props;
  }

  /** KRaft storage is formatted once per instance; the cluster id is kept beside it. */
  private async formatStorage(java: JavaInstall, cp: string, props: string): Promise<void> {
    const idFile = join(this.dir, 'cluster-id');
    if (existsSync(join(this.dir, 'kafka-data', 'meta.properties')) && existsSync(idFile)) return;
    let clusterId: string;
    if (existsSync(idFile)) {
      clusterId = readFileSync(idFile, 'utf8').trim();
    } else {
      const { stdout } = await run(java.path, ['-cp', cp, 'kafka.tools.StorageTool', 'random-uuid']);
      clusterId = stdout.trim();
      writeFileSync(idFile, clusterId);
    }
    await run(java.path, [
      '-cp',
      cp,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      props,
      '--ignore-formatted',
    ]);
  }
}
