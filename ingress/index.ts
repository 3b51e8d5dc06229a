/**
 * Starting and stopping the ingress: secrets, the supervised idempotent producer, the batcher, the
 * rejected-delivery recorder, metrics and the HTTP server, wired together. `stop()` is the graceful
 * shutdown SIGTERM triggers: stop accepting (readiness turns false, new notifications get 503 with
 * Connection: close), let in-flight requests finish — each is answered when its batch is acknowledged
 * or its ack budget runs out — then disconnect the producer and close the server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { type Env, warnUnknownVariables } from '../lib/config';
import { ErrorCodes, TransientError } from '../lib/errors';
import { createKafka } from '../lib/kafka';
import { applyKafkajsAdaptations } from '../lib/kafkajs';
import { KeyHashPartitioner } from '../lib/kafkajs/partitioner';
import { createLogger, type Logger } from '../lib/logger';
import { createMetricsRegistry } from '../lib/metrics';
import { withTimeout } from '../lib/timeout';
import { ProduceBatcher } from './batcher';
import { INGRESS_SECTIONS, type IngressConfig } from './config';
import { createIngressMetrics, type IngressMetrics } from './metrics';
import { ProducerSupervisor } from './producer';
import { RejectedRecorder } from './rejected';
import { SecretStore } from './secrets';
import { createIngressApp, type IngressApp } from './server';
import { fetchNylasIpAddresses, SourceAllowlist } from './source';

/** How long a stopping ingress still reads requests already on its connections (answered 503). */
const SHUTDOWN_GRACE_MS = 300;

export interface StartIngressOptions {
  logger?: Logger;
  /** The environment the config came from: unknown INGRESS_*, KAFKA_*, … variables in it are warned about. */
  env?: Env;
  /** A fresh registry per test; by default one with the process metrics. */
  registry?: Registry;
  kafka?: Kafka;
}

export interface RunningIngress {
  /** http://host:port of the listening server (127.0.0.1 when bound to every interface). */
  url: string;
  port: number;
  app: IngressApp;
  metrics: IngressMetrics;
  secrets: SecretStore;
  batcher: ProduceBatcher;
  isReady(): boolean;
  /** Graceful shutdown; safe to call more than once. */
  stop(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

export async function startIngress(
  config: IngressConfig,
  options: StartIngressOptions = {},
): Promise<RunningIngress> {
  const section = config.ingress;
  const logger = options.logger ?? createLogger({ name: 'ingress', level: config.logLevel });
  if (options.env) warnUnknownVariables(options.env, INGRESS_SECTIONS, logger);
  const registry = options.registry ?? createMetricsRegistry({ service: 'ingress' });
  const metrics = createIngressMetrics(registry);
  applyKafkajsAdaptations(logger, registry);
  const kafka = options.kafka ?? createKafka(config.kafka, logger, 'ingress');

  const secrets = new SecretStore({ ...section.secrets, logger: logger.child({ component: 'secrets' }) });
  await secrets.start();
  if (secrets.destinations().length === 0 && !section.secrets.acceptMockSecret) {
    logger.warn(
      'no webhook secret configured (NYLAS_WEBHOOK_SECRETS / NYLAS_WEBHOOK_SECRETS_FILE): challenges are ' +
        'answered, notifications get 503 until a secret is installed',
    );
  }

  metrics.producerUp.set(0);
  const supervisor = new ProducerSupervisor({
    // Limited retries on purpose: a send that gives up retires its producer (see producer.ts), so the
    // sequence numbers never outlive a failure; kafkajs's default for idempotence is to retry forever.
    createProducer: () =>
      kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // Java-compatible murmur2 (kafkajs's DefaultPartitioner, the key's hash remembered): the same
        // grant lands on the same partition as in every other client.
        createPartitioner: KeyHashPartitioner,
        retry: { retries: 5 },
      }),
    logger: logger.child({ component: 'producer' }),
    onStateChange: (up) => metrics.producerUp.set(up ? 1 : 0),
  });
  const batcher = new ProduceBatcher(
    supervisor,
    { ...section.batch, sendTimeoutMs: section.ackTimeoutMs, ackTimeoutMs: section.ackTimeoutMs },
    logger.child({ component: 'batcher' }),
    { onBatchAcknowledged: (records) => metrics.batchRecords.observe(records) },
  );
  // Rejected records have their own producer and batches: sharing the raw topic's would let a missing
  // rejected topic or a refused write fail (and retire the producer of) a batch of valid deliveries.
  // Not idempotent (a duplicated diagnostic record is harmless) and not part of readiness.
  const rejectedLogger = logger.child({ component: 'rejected' });
  const rejectedSupervisor = new ProducerSupervisor({
    createProducer: () =>
      kafka.producer({
        allowAutoTopicCreation: false,
        createPartitioner: KeyHashPartitioner,
        retry: { retries: 2 },
      }),
    logger: rejectedLogger,
  });
  const rejectedBatcher = new ProduceBatcher(
    rejectedSupervisor,
    { ...section.batch, sendTimeoutMs: section.ackTimeoutMs, ackTimeoutMs: section.ackTimeoutMs },
    rejectedLogger,
  );
  const rejected = new RejectedRecorder({
    topic: config.topics.rejected,
    ...section.rejected,
    ackTimeoutMs: section.ackTimeoutMs,
    publish: (topic, message, deadline) => rejectedBatcher.publish(topic, message, deadline),
    metrics,
    logger: rejectedLogger,
  });
  let allowlist: SourceAllowlist | undefined;
  if (section.source !== undefined) {
    const { fromNylas } = section.source;
    allowlist = new SourceAllowlist({
      cidrs: section.source.cidrs,
      fetchNylasList:
        fromNylas === undefined ? undefined : () => fetchNylasIpAddresses(fromNylas.apiUri, fromNylas.apiKey),
      refreshMs: section.source.refreshMs,
      logger: logger.child({ component: 'source-allowlist' }),
    });
    // Not awaited past its first attempt: until Nylas's list loads, notifications get a retried 503.
    await allowlist.start();
  }
  const app = createIngressApp({
    config: section,
    source:
      allowlist === undefined || section.source === undefined
        ? undefined
        : { allowlist, trustProxyHops: section.source.trustProxyHops },
    rawTopic: config.topics.raw,
    secrets,
    publish: (topic, message, deadline) => batcher.publish(topic, message, deadline),
    pendingBytes: () => batcher.pendingBytes,
    recordRejected: (d) => rejected.record(d),
    producerUp: () => supervisor.isUp(),
    metrics,
    logger: logger.child({ component: 'http' }),
  });

  supervisor.start();
  rejectedSupervisor.start();
  const { headersTimeoutMs, bodyDeadlineMs } = section.strangers;
  const server = createServer(
    {
      // Node checks the two timeouts below only this often (default 30 s): with thousands of slow-loris
      // connections, 30 s of grace is 30 s of memory and file descriptors held.
      connectionsCheckingInterval: 1000,
      // A head still arriving after this is cut (Nylas sends the head at once).
      headersTimeout: headersTimeoutMs,
      // A backstop behind the body deadline, which answers 408 itself (requestTimeout counts to the
      // end of the request as received, not to our answer).
      requestTimeout: headersTimeoutMs + bodyDeadlineMs + 1000,
    },
    app.listener,
  );
  server.keepAliveTimeout = section.strangers.keepAliveTimeoutMs;
  const address = await listen(server, section.host, section.port);
  const host = section.host === '0.0.0.0' || section.host === '::' ? '127.0.0.1' : section.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  logger.info({ url, rawTopic: config.topics.raw, ...secrets.counts() }, 'ingress listening');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const started = Date.now();
      logger.info({ inFlight: app.activeRequests() }, 'shutting down: no new notifications accepted');
      app.beginShutdown();
      const budget = section.shutdownTimeoutMs;
      // A request a client wrote on an idle keep-alive connection just before the signal may not be
      // read yet; node counts that connection idle, and closing it resets the request ("other side
      // closed" in the shutdown test, for requests started before SIGTERM). So the listener and the
      // connections stay open briefly: what arrives meanwhile is answered 503 with Connection: close.
      await sleep(Math.min(SHUTDOWN_GRACE_MS, budget));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if ((await withTimeout(app.whenIdle(), Math.max(0, budget - (Date.now() - started)))) === 'timeout') {
        logger.warn({ inFlight: app.activeRequests() }, 'shutdown timeout: in-flight requests cut off');
      }
      const idle = Promise.all([batcher.idle(), rejectedBatcher.idle()]);
      if ((await withTimeout(idle, Math.max(0, budget - (Date.now() - started)))) === 'timeout') {
        const err = new TransientError(ErrorCodes.SHUTTING_DOWN, 'the ingress is shutting down');
        batcher.abort(err);
        rejectedBatcher.abort(err);
      }
      await Promise.all([supervisor.close(), rejectedSupervisor.close()]);
      secrets.stop();
      allowlist?.stop();
      server.closeAllConnections();
      await closed;
      logger.info({ ms: Date.now() - started }, 'ingress stopped');
    })();
    return stopping;
  };

  return {
    url,
    port: address.port,
    app,
    metrics,
    secrets,
    batcher,
    isReady: () => supervisor.isUp() && !app.isShuttingDown(),
    stop,
  };
}
