/**
 * Starting and stopping the processor: the consume-transform-produce loop (processor.ts) plus its
 * metrics/health HTTP endpoint on PROCESSOR_METRICS_PORT: `GET /metrics` (Prometheus), `GET /healthz`
 * (live: 503 once an assigned partition has had records waiting without progress for
 * PROCESSOR_STALL_TIMEOUT, so a liveness probe restarts a process that is up and consumes nothing),
 * `GET /readyz` (consuming, and every assigned partition taken over).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { type Env, warnUnknownVariables } from '../lib/config';
import { applyKafkajsAdaptations } from '../lib/kafkajs';
import { createLogger, type Logger } from '../lib/logger';
import { createMetricsRegistry } from '../lib/metrics';
import { BackfillCoordinator } from './backfill/coordinator';
import { BackfillMetrics } from './backfill/metrics';
import { PROCESSOR_SECTIONS, type ProcessorConfig } from './config';
import { type DependencyOptions, processorDependencies } from './dependencies';
import { ProcessorMetrics } from './metrics';
import { Processor } from './processor';

export { transactionalIdFor } from './assignment/kafka-steps';
export { loadProcessorConfig, type ProcessorConfig } from './config';
export { Processor } from './processor';

export interface StartProcessorOptions extends DependencyOptions {
  logger?: Logger;
  /** The environment the config came from: unknown PROCESSOR_*, KAFKA_*, … variables in it are warned about. */
  env?: Env;
  registry?: Registry;
  /** Called when the processor cannot go on (the consumer crashed for good); the CLI exits non-zero. */
  onFatal?: (err: unknown) => void;
  /** The processor's clock (default Date.now). */
  now?: () => number;
  /** Serve /metrics, /healthz, /readyz (default true; tests usually pass false). */
  http?: boolean;
}

export interface RunningProcessor {
  processor: Processor;
  metrics: ProcessorMetrics;
  /** http://127.0.0.1:port of the metrics endpoint, when served. */
  url: string | undefined;
  stop(): Promise<void>;
}

function listen(server: Server, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      const address = server.address();
      // A TCP server's address is an AddressInfo (a string only for a pipe or a socket file).
      if (address !== null && typeof address === 'object') resolve(address);
      else reject(new Error(`the metrics server listens on ${address}, not a TCP port`));
    });
  });
}

export async function startProcessor(
  config: ProcessorConfig,
  options: StartProcessorOptions = {},
): Promise<RunningProcessor> {
  const logger = options.logger ?? createLogger({ name: 'processor', level: config.logLevel });
  if (options.env) warnUnknownVariables(options.env, PROCESSOR_SECTIONS, logger);
  const registry = options.registry ?? createMetricsRegistry({ service: 'processor' });
  applyKafkajsAdaptations(logger, registry);
  const metrics = new ProcessorMetrics(registry);
  // Served from before the processor exists (live, not ready), as while it starts.
  let processor: Processor | undefined;
  let server: Server | undefined;
  let url: string | undefined;
  if (options.http ?? true) {
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') {
        res.writeHead(405).end();
      } else if (path === '/metrics') {
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          () => res.writeHead(500).end(),
        );
      } else if (path === '/healthz') {
        const live = processor?.live ?? true;
        res
          .writeHead(live ? 200 : 503, { 'content-type': 'text/plain' })
          .end(live ? 'ok' : `stalled: a partition has made no progress for ${processor?.longestStall} s`);
      } else if (path === '/readyz') {
        const ready = processor?.ready ?? false;
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready' : 'not ready');
      } else {
        res.writeHead(404).end();
      }
    });
    const address = await listen(server, config.metricsPort);
    url = `http://127.0.0.1:${address.port}`;
  }
  let started: Processor;
  let coordinator: BackfillCoordinator;
  try {
    const { budget, ...deps } = await processorDependencies(config, logger, metrics, options);
    coordinator = new BackfillCoordinator({
      config,
      kafka: deps.kafka,
      admin: deps.admin,
      logger,
      metrics: new BackfillMetrics(registry, options.now),
      budget,
      ...(options.fetchPage ? { fetchPage: options.fetchPage } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    started = new Processor({
      config,
      logger,
      metrics,
      ...deps,
      ...(options.onFatal ? { onFatal: options.onFatal } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    processor = started;
  } catch (err) {
    server?.close();
    throw err;
  }
  try {
    await started.start();
    // Beside the processor, on its own consumer group (backfill/coordinator.ts).
    await coordinator.start();
  } catch (err) {
    await coordinator.stop().catch(() => undefined);
    await started.stop().catch(() => undefined);
    server?.close();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    processor: started,
    metrics,
    url,
    stop() {
      stopped ??= (async () => {
        // First: its list calls share the expander's budget, which the processor's stop closes.
        await coordinator.stop();
        await started.stop();
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      })();
      return stopped;
    },
  };
}
