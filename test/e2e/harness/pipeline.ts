/**
 * The whole pipeline as separate OS processes, on a PRIVATE local runtime (instance "e2e", its own ports)
 * so the fault schedule can stop the broker and the registry without disturbing anyone: Kafka + Apicurio
 * (deploy/local), topics and schemas provisioned, the simulator's Nylas REST API in this process (for
 * expansion, with injectable 429s and 404s), the compiled ingress and one or two compiled processors
 * (cli/up/supervisor.ts ServiceProcess: `node dist/cli/index.js <role>`), all on 127.0.0.1.
 *
 * A service that exits on its own (not stopped or killed by the schedule) is restarted, as an
 * orchestrator would, and counted: the run reports it.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { CLI, ServiceProcess } from '../../../cli/up/supervisor';
import { LocalRuntime, runtimeOptionsFromEnv } from '../../../deploy/local/runtime';
import { retryStartupStep } from '../../../lib/backoff';
import { type CommonConfig, loadCommonConfig } from '../../../lib/config';
import { errorMessage } from '../../../lib/errors';
import { createKafka } from '../../../lib/kafka';
import { applyKafkajsAdaptations } from '../../../lib/kafkajs';
import { silentLogger } from '../../../lib/logger';
import { createSchemaRegistry } from '../../../lib/schema-registry';
import { ensureTopics, topicPlan } from '../../../lib/topics';
import { PROCESSOR_GROUP_ID } from '../../../processors/config';
import { registerDomainSchemas } from '../../../schemas';
import { type NylasApiServer, startNylasApi, type World } from '../../../simulator';
import { pollUntil } from '../../helpers/kafka';
import { TOPIC_VARIABLES } from '../../helpers/topic-env';
import { sendTraffic, type TrafficOptions, type TrafficRun } from './traffic';

/** Ports of the private instance (never the shared 'test'/'default' ones). Below the kernel's ephemeral
 * range (32768–60999): a fixed port in it can be taken, while its server is stopped for a fault, as the
 * local port of any outgoing connection; the registry's restart once failed so (Address already in use). */
export const E2E_PORTS: RuntimePorts = {
  kafka: 30092,
  controller: 30093,
  registry: 30081,
  registryManagement: 30000,
};

/** The private instance's ports (a cluster's broker i adds 10·(i−1) to the Kafka and controller ones). */
export interface RuntimePorts {
  kafka: number;
  controller: number;
  registry: number;
  registryManagement: number;
}

export interface PipelineOptions {
  partitions: number;
  log?: (line: string) => void;
  /** The private runtime instance: "e2e" (one broker on E2E_PORTS) unless given. */
  instance?: string;
  ports?: RuntimePorts;
  /** Kafka brokers (3: a cluster; topics then get replication 3 and min.insync.replicas 2). */
  brokers?: number;
  /** Each broker's heap (LOCAL_KAFKA_HEAP's default unless given). */
  kafkaHeap?: string;
}

/** Where the services listen: free ports in 50000–50999, chosen at start (the 5xxxx range is also the
 * kernel's ephemeral range, so a fixed port can be taken by any other process's listen(0)). */
export interface ServicePorts {
  ingress: number;
  processor1: number;
  processor2: number;
  api: number;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createNetServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freeServicePorts(): Promise<ServicePorts> {
  const found: number[] = [];
  const start = 50_000 + Math.floor(Math.random() * 900);
  for (let port = start; found.length < 4 && port < 51_000; port++)
    if (await canListen(port)) found.push(port);
  const [ingress, processor1, processor2, api] = found;
  if (api === undefined || processor2 === undefined || processor1 === undefined || ingress === undefined)
    throw new Error('no four free ports in 50000–50999 on 127.0.0.1');
  return { ingress, processor1, processor2, api };
}

export const E2E_SECRET = 'e2e-webhook-secret-6c1f0a';
export const E2E_API_KEY = 'nyk_e2e_local';

export interface ServiceEvent {
  at: number;
  service: string;
  what: string;
}

/** The last fatal/error message of a service's current run (its CLI error line, or a logged error). */
export function lastError(logFile: string): string {
  if (!existsSync(logFile)) return '(no log)';
  const text = readFileSync(logFile, 'utf8');
  const run = text.slice(text.lastIndexOf('==== start'));
  let found = '(no error logged)';
  for (const line of run.split('\n')) {
    if (line.startsWith('nylas-stream:')) found = line;
    else if (
      line.startsWith('{') &&
      /"level":"(fatal|error)"/.test(line) &&
      !line.includes('"logger":"kafkajs"')
    ) {
      try {
        const l = JSON.parse(line) as { msg?: string; err?: { type?: string; message?: string } };
        found = `${l.msg ?? ''}${l.err ? ` (${l.err.type}: ${l.err.message})` : ''}`;
      } catch {
        // a line cut short by the exit
      }
    }
  }
  return found.slice(0, 300);
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (answers: boolean) => {
      socket.destroy();
      resolve(answers);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(2000, () => done(true));
  });
}

/** Fails loudly when the compiled CLI is missing: the services run from dist/, not from sources. */
export function requireBuild(): void {
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: run "npm run build" before the end-to-end tests (npm test does)`);
}

export class E2ePipeline {
  readonly runtime: LocalRuntime;
  readonly config: CommonConfig;
  readonly env: Record<string, string>;
  readonly logDir: string;
  readonly events: ServiceEvent[] = [];
  ports!: ServicePorts;
  kafka!: Kafka;
  admin!: Admin;
  api!: NylasApiServer;
  ingress!: ServiceProcess;
  readonly processors: ServiceProcess[] = [];
  /** Services meant to be running (the schedule's stops and kills clear it; starts set it). */
  private readonly desired = new Set<ServiceProcess>();
  /** Services a start, stop or kill is under way for (the watchdog leaves them alone). */
  private readonly busy = new Map<ServiceProcess, Promise<void>>();
  private watchdog: NodeJS.Timeout | undefined;
  /** Exits of a running service nobody asked for, and start-ups that ended in an exit. */
  unexpectedExits = 0;
  failedStartups = 0;
  private readonly log: (line: string) => void;

  constructor(options: PipelineOptions) {
    requireBuild();
    const log = options.log ?? ((line: string) => console.log(`[e2e] ${line}`));
    this.log = log;
    const ports = options.ports ?? E2E_PORTS;
    this.runtime = new LocalRuntime(
      runtimeOptionsFromEnv(
        {},
        {
          instance: options.instance ?? 'e2e',
          brokerCount: options.brokers ?? 1,
          kafkaPort: ports.kafka,
          controllerPort: ports.controller,
          registryPort: ports.registry,
          registryManagementPort: ports.registryManagement,
          cacheDir: runtimeOptionsFromEnv(process.env).cacheDir,
          java: process.env.NYLAS_STREAM_JAVA,
          log: (line) => log(`runtime: ${line}`),
          ...(options.kafkaHeap ? { kafkaHeap: options.kafkaHeap } : {}),
        },
      ),
    );
    this.logDir = join(this.runtime.dir, 'logs', 'services');
    // Every TOPIC_* variable spelled out with its default name, so nothing inherited from the
    // environment (another test's overrides) can point a service at other topics.
    const defaults = loadCommonConfig({}).topics as unknown as Record<string, string>;
    const topicEnv: Record<string, string> = {};
    for (const v of TOPIC_VARIABLES) {
      const key = v
        .slice('TOPIC_'.length)
        .toLowerCase()
        .replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
      topicEnv[v] = String(defaults[key]);
    }
    this.env = {
      KAFKA_BROKERS: this.runtime.brokers,
      SCHEMA_REGISTRY_URL: this.runtime.registryUrl,
      LOG_LEVEL: process.env.NYLAS_STREAM_E2E_LOG_LEVEL ?? 'info',
      ...topicEnv,
      TOPIC_PARTITIONS: String(options.partitions),
      // 1 on one broker; 3 on a cluster (topicPlan then sets min.insync.replicas=2).
      TOPIC_REPLICATION_FACTOR: String(this.runtime.replicationFactor),
    };
    this.config = loadCommonConfig({ ...this.env, LOG_LEVEL: 'silent' });
  }

  get webhookUrl(): string {
    return `http://127.0.0.1:${this.ports.ingress}/webhooks/nylas`;
  }

  get groupId(): string {
    return PROCESSOR_GROUP_ID;
  }

  private note(service: string, what: string): void {
    this.events.push({ at: Date.now(), service, what });
  }

  /** Fresh infrastructure (leftovers of an earlier run of this instance are removed), topics, schemas. */
  async startInfrastructure(): Promise<void> {
    await this.runtime.destroy();
    // A JVM of an earlier run may still be releasing its ports; starting now would fail with EADDRINUSE.
    const o = this.runtime.options;
    const ports = [
      ...this.runtime.nodes.flatMap((n) => [n.port, n.controllerPort]),
      o.registryPort,
      o.registryManagementPort,
    ];
    for (const port of ports) {
      await pollUntil(async () => !(await portAnswers(port)), {
        timeoutMs: 90_000,
        intervalMs: 500,
        description: `127.0.0.1:${port} to be free (another process is listening on a port the e2e run needs)`,
      });
    }
    this.ports = await freeServicePorts();
    mkdirSync(this.logDir, { recursive: true });
    await this.runtime.startKafka();
    await this.runtime.startRegistry();
    applyKafkajsAdaptations(silentLogger());
    this.kafka = createKafka(this.config.kafka, silentLogger(), 'e2e');
    this.admin = this.kafka.admin();
    await this.admin.connect();
    const topics = await ensureTopics(this.admin, topicPlan(this.config.topics));
    if (topics.created.length === 0) throw new Error('expected a fresh instance with no topics');
    const registry = createSchemaRegistry(this.config.registry);
    await retryStartupStep(
      () => registerDomainSchemas(registry, this.config.topics),
      (err, attempt) =>
        this.log(`registering the schemas failed (attempt ${attempt + 1}), retrying: ${errorMessage(err)}`),
    );
  }

  async startApi(world: World): Promise<void> {
    this.api = await startNylasApi({ world, apiKey: E2E_API_KEY, port: this.ports.api });
  }

  /** The simulator sends through this pipeline's ingress, with its Nylas API and secret. */
  send(o: Omit<TrafficOptions, 'api' | 'url' | 'secret'>): Promise<TrafficRun> {
    return sendTraffic({ ...o, api: this.api, url: this.webhookUrl, secret: E2E_SECRET });
  }

  /** Creates (does not start) the ingress and the two processors. */
  defineServices(): void {
    this.ingress = new ServiceProcess({
      name: 'ingress',
      args: ['ingress'],
      env: {
        ...this.env,
        INGRESS_PORT: String(this.ports.ingress),
        INGRESS_HOST: '127.0.0.1',
        NYLAS_WEBHOOK_SECRETS: E2E_SECRET,
      },
      readyUrl: `http://127.0.0.1:${this.ports.ingress}/readyz`,
      logDir: this.logDir,
      readyTimeoutMs: 120_000,
    });
    for (const [i, port] of [this.ports.processor1, this.ports.processor2].entries()) {
      this.processors.push(
        new ServiceProcess({
          name: `processor-${i + 1}`,
          args: ['processor'],
          env: {
            ...this.env,
            PROCESSOR_METRICS_PORT: String(port),
            // Each processor has a disk of its own, as on two machines: a restart restores the tail
            // past its checkpoint, a takeover by the other one reads the changelog from the start.
            PROCESSOR_STATE_DIR: join(this.logDir, `processor-${i + 1}-state`),
            NYLAS_API_URI: this.api.url,
            NYLAS_API_KEY: E2E_API_KEY,
            // A SIGKILLed member is noticed after this long (the default 30 s would stall the run).
            PROCESSOR_SESSION_TIMEOUT_MS: '10000',
            // Injected 429s are retried; one Retry-After beyond this deadline goes to the DLQ on purpose.
            EXPANSION_DEADLINE: '30s',
            EXPANSION_BACKOFF_BASE: '100ms',
            EXPANSION_BACKOFF_MAX: '2s',
          },
          readyUrl: `http://127.0.0.1:${port}/readyz`,
          logDir: this.logDir,
          // A processor started while the registry is down waits for it (withStartupRetry).
          readyTimeoutMs: 240_000,
        }),
      );
    }
    this.watchdog = setInterval(() => this.checkServices(), 500);
  }

  /**
   * A desired service that is not running exited on its own: start it again, as Kubernetes or systemd
   * would (with a growing back-off), and count it. The reason is taken from the end of its log.
   */
  private checkServices(): void {
    for (const s of [this.ingress, ...this.processors]) {
      if (s.running || !this.desired.has(s) || this.busy.has(s) || s.lastExit === undefined) continue;
      this.unexpectedExits += 1;
      this.note(s.options.name, `exited unexpectedly ${JSON.stringify(s.lastExit)}: ${lastError(s.logFile)}`);
      void this.start(s).catch((err: unknown) =>
        this.note(s.options.name, `gave up restarting: ${String(err)}`),
      );
    }
  }

  private async exclusive(s: ServiceProcess, fn: () => Promise<void>): Promise<void> {
    while (this.busy.has(s)) await this.busy.get(s)?.catch(() => undefined);
    const p = fn();
    this.busy.set(s, p);
    try {
      await p;
    } finally {
      this.busy.delete(s);
    }
  }

  /** Starts the service and waits until it is ready; a start-up that ends in an exit is retried with
   * back-off (up to `attempts` times), as an orchestrator would, and counted. */
  async start(s: ServiceProcess, attempts = 12): Promise<void> {
    this.desired.add(s);
    await this.exclusive(s, async () => {
      for (let attempt = 1; ; attempt++) {
        if (s.running) return;
        try {
          await s.start();
          this.note(
            s.options.name,
            attempt === 1 ? 'started (ready)' : `started (ready) at attempt ${attempt}`,
          );
          return;
        } catch (err) {
          if (s.running || attempt >= attempts || !this.desired.has(s)) throw err;
          this.failedStartups += 1;
          this.note(
            s.options.name,
            `exited during start-up ${JSON.stringify(s.lastExit)}: ${lastError(s.logFile)}`,
          );
          await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** attempt)));
        }
      }
    });
  }

  async stop(s: ServiceProcess): Promise<void> {
    this.desired.delete(s);
    await this.exclusive(s, () => s.stop());
    this.note(s.options.name, `stopped (SIGTERM) ${JSON.stringify(s.lastExit)}`);
  }

  async kill(s: ServiceProcess): Promise<void> {
    this.desired.delete(s);
    await this.exclusive(s, () => s.kill());
    this.note(s.options.name, `killed (SIGKILL) ${JSON.stringify(s.lastExit)}`);
  }

  /** Stops everything this harness started; never throws (afterAll must always clean up). */
  async teardown(keepInfrastructure = false): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    const services = [this.ingress, ...this.processors].filter((s): s is ServiceProcess => s !== undefined);
    for (const s of services) {
      this.desired.delete(s);
      await s.stop(20_000).catch(() => s.kill().catch(() => undefined));
    }
    await this.api?.close().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    if (keepInfrastructure) await this.runtime.stop().catch(() => undefined);
    else await this.runtime.destroy().catch(() => undefined);
  }
}
