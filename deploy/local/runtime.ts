/**
 * The no-Docker runtime: a real Apache Kafka broker (KRaft, combined broker+controller) and a real
 * Apicurio Registry (Confluent-compatible API, schemas stored in Kafka via `kafkasql`), both fetched
 * from Maven Central into a cache and run as local JVM processes bound to 127.0.0.1.
 *
 * Several instances can live side by side (each has its own name, ports, data and logs): `npm start`
 * uses "default", the test suite "test", and fault-injection tests start private ones they can stop.
 *
 * An instance is one broker (the default; what `npm test` and CI use) or a cluster of N (`brokerCount`,
 * `up --brokers 3`): N KRaft processes, each broker AND controller ("combined" mode), forming a static
 * N-voter quorum. Combined mode is not what production runs (dedicated controllers), but on a 2-core
 * development machine it is half the JVMs, and it makes "a node dies" mean what it means on a small
 * cluster: a broker and a controller vote go together, and 2 of 3 still form a quorum. The cluster's
 * topics default to replication 3 with min.insync.replicas=2, internal topics included, so acks=all means
 * "two disks have it" exactly as in production.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { type Env, optionalStr } from '../../lib/config';
import { installKafkajsAdaptations } from '../../lib/kafkajs';
import { minInsyncReplicas } from '../../lib/topics';
import { BROKER_PORT_STEP, INSTANCE_PORTS, LOCAL_RUNTIME_VARIABLES, MAX_BROKERS } from './config';
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
  /** Kafka brokers: 1, or a cluster (3: replication 3, min.insync.replicas 2). */
  brokerCount: number;
  /** The first broker's ports; broker i of a cluster adds BROKER_PORT_STEP·(i−1) to both. */
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
  const cacheDir = overrides.cacheDir ?? defaultCacheDir(env);
  return {
    instance,
    cacheDir,
    host: '127.0.0.1',
    // An instance remembers how many brokers it was started with, so `stop` and `infra status` find them all.
    brokerCount: v.brokerCount.read(env) ?? recordedBrokerCount(instanceDir(cacheDir, instance)) ?? 1,
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

/**
 * What a client of this runtime needs in its environment: KAFKA_BROKERS, SCHEMA_REGISTRY_URL and, on a
 * cluster, TOPIC_REPLICATION_FACTOR 3 (topicPlan adds min.insync.replicas=2 to it) unless the caller's
 * environment already chose one.
 */
export function runtimeEnv(runtime: LocalRuntime, env: Env = process.env): Record<string, string> {
  const out: Record<string, string> = {
    KAFKA_BROKERS: runtime.brokers,
    SCHEMA_REGISTRY_URL: runtime.registryUrl,
  };
  if (runtime.nodes.length > 1 && optionalStr(env, 'TOPIC_REPLICATION_FACTOR') === undefined)
    out.TOPIC_REPLICATION_FACTOR = String(runtime.replicationFactor);
  return out;
}

export function instanceDir(cacheDir: string, instance: string): string {
  return join(cacheDir, 'instances', instance);
}

/** The broker count an instance was last started with (the `brokers` file beside its data), if any. */
export function recordedBrokerCount(dir: string): number | undefined {
  try {
    const n = Number(readFileSync(join(dir, 'brokers'), 'utf8').trim());
    return Number.isInteger(n) && n >= 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** One Kafka process of the instance (node id = broker id = `id`). */
export interface KafkaNode {
  id: number;
  port: number;
  controllerPort: number;
  /** host:port, as KAFKA_BROKERS lists it. */
  address: string;
  /** Where its server.properties and kafka-data live. */
  dir: string;
  proc: ManagedProcess;
}

export interface BrokerStatus {
  id: number;
  running: boolean;
  pid: number | undefined;
  address: string;
  log: string;
}

export interface RuntimeStatus {
  instance: string;
  /** `running`: every broker answers; `pid` and `log`: the first broker's (all of them are in `nodes`). */
  kafka: { running: boolean; pid: number | undefined; brokers: string; version: string; log: string };
  registry: { running: boolean; pid: number | undefined; url: string; version: string; log: string };
  nodes: BrokerStatus[];
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
  /** The first broker's process (the only one of a single-broker instance). */
  readonly kafkaProc: ManagedProcess;
  readonly registryProc: ManagedProcess;
  /** Every broker, by id 1…N. */
  readonly nodes: readonly KafkaNode[];

  constructor(options: LocalRuntimeOptions) {
    const n = options.brokerCount;
    if (!Number.isInteger(n) || n < 1 || n > MAX_BROKERS)
      throw new Error(`brokerCount must be an integer from 1 to ${MAX_BROKERS}, got ${n}`);
    this.options = options;
    this.dir = instanceDir(options.cacheDir, options.instance);
    const nodes: KafkaNode[] = [];
    for (let id = 1; id <= n; id++) {
      const port = options.kafkaPort + BROKER_PORT_STEP * (id - 1);
      const controllerPort = options.controllerPort + BROKER_PORT_STEP * (id - 1);
      // One broker keeps the layout it always had (CI and every existing instance depend on it); a
      // cluster's brokers each get a folder, and markers that are no substring of one another.
      const single = n === 1;
      const dir = single ? this.dir : join(this.dir, `broker-${id}`);
      nodes.push({
        id,
        port,
        controllerPort,
        address: `${options.host}:${port}`,
        dir,
        proc: {
          name: single ? 'kafka' : `kafka broker ${id}`,
          pidFile: join(dir, 'kafka.pid'),
          logFile: join(this.dir, 'logs', single ? 'kafka.log' : `kafka-${id}.log`),
          marker: `-Dnylas.stream.instance=${options.instance}.${single ? 'kafka' : `broker-${id}.kafka`}`,
        },
      });
    }
    this.nodes = nodes;
    this.kafkaProc = (nodes[0] as KafkaNode).proc;
    this.registryProc = {
      name: 'registry',
      pidFile: join(this.dir, 'registry.pid'),
      logFile: join(this.dir, 'logs', 'registry.log'),
      marker: `-Dnylas.stream.instance=${options.instance}.registry`,
    };
  }

  /** KAFKA_BROKERS: every broker of the instance. */
  get brokers(): string {
    return this.nodes.map((n) => n.address).join(',');
  }

  /** What topics should be created with here: 3 on a cluster of 3 or more, else the broker count. */
  get replicationFactor(): number {
    return Math.min(3, this.nodes.length);
  }

  /** min.insync.replicas that goes with it (lib/topics.ts's rule, which our topics are created with). */
  get minInsyncReplicas(): number {
    return minInsyncReplicas(this.replicationFactor) ?? 1;
  }

  node(id: number): KafkaNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n)
      throw new Error(
        `instance "${this.options.instance}" has no broker ${id} (brokers 1-${this.nodes.length})`,
      );
    return n;
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

  /** Starts every broker that is not running (all at once: a cluster's quorum needs a majority before
   * any of them answers), then waits until each one answers and sees the whole cluster. */
  async startKafka(): Promise<void> {
    this.checkLayout();
    // One after the other (the first one makes the cluster id the others are formatted with); spawning
    // does not wait for readiness, so all of them are starting at once.
    let started = false;
    for (const n of this.nodes) started = (await this.spawnBroker(n)) || started;
    if (started) writeFileSync(join(this.dir, 'brokers'), `${this.nodes.length}\n`);
    await Promise.all(this.nodes.map((n) => this.waitForBroker(n)));
  }

  /** Starts one broker of the instance (after a stop or kill) and waits until it has rejoined. */
  async startBroker(id: number): Promise<void> {
    const node = this.node(id);
    await this.spawnBroker(node);
    await this.waitForBroker(node);
  }

  /** SIGTERM: a controlled shutdown (leadership moves away first), SIGKILL after 30 s. */
  async stopBroker(id: number): Promise<'stopped' | 'killed' | 'not-running'> {
    return stopProcess(this.node(id).proc, 30_000);
  }

  /** SIGKILL: the broker dies with whatever it had in flight (fault-injection tests). */
  async killBroker(id: number): Promise<void> {
    await killProcess(this.node(id).proc);
  }

  async restartBroker(id: number): Promise<void> {
    await this.stopBroker(id);
    await this.startBroker(id);
  }

  /** Refuses to start a layout other than the one whose processes are running (they share ports). */
  private checkLayout(): void {
    const recorded = recordedBrokerCount(this.dir);
    if (recorded === undefined || recorded === this.nodes.length) return;
    const other = new LocalRuntime({ ...this.options, brokerCount: recorded });
    const running = other.nodes.filter((n) => runningPid(n.proc) !== undefined);
    if (running.length > 0)
      throw new Error(
        `instance "${this.options.instance}" is running with ${recorded} broker(s); stop it first (nylas-stream stop) to start it with ${this.nodes.length}`,
      );
  }

  /** Spawns the broker unless it runs; true when it was started. */
  private async spawnBroker(node: KafkaNode): Promise<boolean> {
    const o = this.options;
    if (runningPid(node.proc) !== undefined) return false;
    const java = findJava(MIN_JAVA.kafka, `Apache Kafka ${o.kafkaVersion}`, process.env, o.java);
    const libs = await ensureKafkaLibs(this.fetchOptions(), o.kafkaVersion, o.log4j2Version);
    const cp = join(libs, '*');
    const props = this.writeKafkaConfig(node);
    await this.formatStorage(java, cp, props, node);
    o.log(
      `starting Kafka ${o.kafkaVersion} ${this.nodes.length > 1 ? `broker ${node.id} ` : ''}on ${node.address} (java ${java.version}, log ${node.proc.logFile})`,
    );
    spawnDetached(node.proc, java.path, [
      `-Xms${o.kafkaHeap}`,
      `-Xmx${o.kafkaHeap}`,
      '-server',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      node.proc.marker,
      `-Dlog4j2.configurationFile=${join(this.dir, 'log4j2.properties')}`,
      '-cp',
      cp,
      'kafka.Kafka',
      props,
    ]);
    return true;
  }

  private async waitForBroker(node: KafkaNode): Promise<void> {
    await waitUntilReady(node.proc, () => this.brokerAnswers(node), 90_000);
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
        // On a cluster its journal (and the snapshot and events topics, which inherit this) is as
        // durable as our own topics: replication 3 (the brokers' default.replication.factor: 3.3.3
        // passes a `replication.factor` given here on as a topic config, which Kafka refuses), two in sync.
        ...(this.nodes.length > 1
          ? [`-Dapicurio.kafkasql.topic.min.insync.replicas=${this.minInsyncReplicas}`]
          : []),
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
    const kafka = await this.stopAllBrokers();
    return { kafka, registry };
  }

  async stopKafka(): Promise<void> {
    await this.stopAllBrokers();
  }

  /** All at once: stopped one by one, the last brokers of a cluster would wait for a quorum that is gone. */
  private async stopAllBrokers(): Promise<string> {
    const results = await Promise.all(this.nodes.map((n) => stopProcess(n.proc, 30_000)));
    return this.nodes.length === 1
      ? (results[0] as string)
      : results.map((r, i) => `${i + 1} ${r}`).join(', ');
  }

  async stopRegistry(): Promise<void> {
    await stopProcess(this.registryProc);
  }

  /** Kills every broker without a clean shutdown (fault-injection tests). */
  async killKafka(): Promise<void> {
    await Promise.all(this.nodes.map((n) => killProcess(n.proc)));
  }

  /** Removes this instance's data and logs (tests use it for throw-away instances). */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async status(): Promise<RuntimeStatus> {
    const o = this.options;
    const rPid = runningPid(this.registryProc);
    const nodes = await Promise.all(
      this.nodes.map(async (n): Promise<BrokerStatus> => {
        const pid = runningPid(n.proc);
        return {
          id: n.id,
          running: pid !== undefined && (await this.brokerAnswers(n, false)),
          pid,
          address: n.address,
          log: n.proc.logFile,
        };
      }),
    );
    return {
      instance: o.instance,
      nodes,
      kafka: {
        running: nodes.every((n) => n.running),
        pid: nodes[0]?.pid,
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

  /** Ready means every broker answers a metadata request, not merely that its port is open. */
  async kafkaAnswers(): Promise<boolean> {
    const answers = await Promise.all(this.nodes.map((n) => this.brokerAnswers(n)));
    return answers.every(Boolean);
  }

  /** This broker answers a metadata request and is registered; with `whole`, it also sees every broker of
   * the instance (what start-up waits for, so that replication 3 can be placed). */
  async brokerAnswers(node: KafkaNode, whole = true): Promise<boolean> {
    // The probe is short-lived, but as published kafkajs polls a 1 ms timer per connection and warns
    // on Node 24 (lib/kafkajs/idle-request-queue.ts); installing is idempotent and logs nothing.
    installKafkajsAdaptations();
    const admin = new Kafka({
      clientId: 'nylas-stream-runtime-probe',
      brokers: [node.address],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 2000,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return (
        cluster.brokers.some((b) => b.nodeId === node.id) &&
        (!whole || cluster.brokers.length >= this.nodes.length) &&
        cluster.controller !== null
      );
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

  private writeKafkaConfig(node: KafkaNode): string {
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    mkdirSync(node.dir, { recursive: true });
    const props = join(node.dir, 'server.properties');
    writeFileSync(props, `${this.serverProperties(node).join('\n')}\n`);
    writeFileSync(join(this.dir, 'log4j2.properties'), LOG4J2);
    return props;
  }

  /** The lines of a broker's server.properties. */
  serverProperties(node: KafkaNode): string[] {
    const o = this.options;
    const cluster = this.nodes.length > 1;
    const rf = this.replicationFactor;
    const isr = this.minInsyncReplicas;
    return [
      'process.roles=broker,controller',
      `node.id=${node.id}`,
      // A static quorum needs no --standalone at format time and works on 3.9 and 4.x alike.
      `controller.quorum.voters=${this.nodes.map((n) => `${n.id}@${o.host}:${n.controllerPort}`).join(',')}`,
      `listeners=PLAINTEXT://${o.host}:${node.port},CONTROLLER://${o.host}:${node.controllerPort}`,
      `advertised.listeners=PLAINTEXT://${o.host}:${node.port}`,
      'inter.broker.listener.name=PLAINTEXT',
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${join(node.dir, 'kafka-data')}`,
      'num.partitions=1',
      // Kafka's internal topics, on as many brokers as our own topics (1 on a single broker).
      `offsets.topic.replication.factor=${rf}`,
      'offsets.topic.num.partitions=3',
      `transaction.state.log.replication.factor=${rf}`,
      `transaction.state.log.min.isr=${isr}`,
      'transaction.state.log.num.partitions=3',
      `share.coordinator.state.topic.replication.factor=${rf}`,
      `share.coordinator.state.topic.min.isr=${isr}`,
      ...(cluster
        ? [
            // As in production: every topic on 3 brokers, and acks=all needs 2 of them, so one broker can
            // die or restart without losing an acknowledged write.
            `default.replication.factor=${rf}`,
            `min.insync.replicas=${isr}`,
            // Never elect a replica that is not in sync: that would drop acknowledged writes.
            'unclean.leader.election.enable=false',
          ]
        : []),
      // Tests and demos join groups constantly; the default 3 s delay would dominate their run time.
      'group.initial.rebalance.delay.ms=0',
      // Our own topics are created explicitly (`nylas-stream topics create`); Apicurio creates its journal.
      'auto.create.topics.enable=true',
    ];
  }

  /** KRaft storage is formatted once per broker; the instance's cluster id is kept beside it. */
  private async formatStorage(java: JavaInstall, cp: string, props: string, node: KafkaNode): Promise<void> {
    const idFile = join(this.dir, 'cluster-id');
    if (existsSync(join(node.dir, 'kafka-data', 'meta.properties')) && existsSync(idFile)) return;
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
