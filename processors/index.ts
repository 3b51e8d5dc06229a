/**
 * Starting and stopping the processor: the consume-transform-produce loop (processor.ts) plus its
 * metrics/health HTTP endpoint on PROCESSOR_METRICS_PORT: `GET /metrics` (Prometheus), `GET /healthz`
 * (live: 503 once an assigned partition has had records waiting without progress for
 * PROCESSOR_STALL_TIMEOUT, so a liveness probe restarts a process that is up and consumes nothing),
 * `GET /readyz` (consuming, and every assigned partition taken over).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import { applyKafkajsAdaptations } from '../lib/kafkajs';
import { createLogger, type Logger } from '../lib/logger';
import { createMetricsRegistry } from '../lib/metrics';
import type { ProcessorConfig } from './config';
import { ProcessorMetrics } from './metrics';
import { Processor, type ProcessorOptions } from './processor';

export { loadProcessorConfig, type ProcessorConfig } from './config';
export { Processor, transactionalIdFor } from './processor';

export interface StartProcessorOptions {
  logger?: Logger;
  registry?: Registry;
  kafka?: Kafka;
  schemaRegistry?: SchemaRegistry;
  fetchMessage?: ProcessorOptions['fetchMessage'];
  /** Replaces the normalize stage (tests that inject a failing stage). */
  normalize?: ProcessorOptions['normalize'];
  onFatal?: (err: unknown) => void;
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
      resolve(server.address() as AddressInfo);
    });
  });
}

export async function startProcessor(
  config: ProcessorConfig,
  options: StartProcessorOptions = {},
): Promise<RunningProcessor> {
  const logger = options.logger ?? createLogger({ name: 'processor', level: config.logLevel });
  const registry = options.registry ?? createMetricsRegistry({ service: 'processor' });
  applyKafkajsAdaptations(logger, registry);
  const metrics = new ProcessorMetrics(registry);
  const processor = new Processor({
    config,
    logger,
    metrics,
    ...(options.kafka ? { kafka: options.kafka } : {}),
    ...(options.schemaRegistry ? { registry: options.schemaRegistry } : {}),
    ...(options.fetchMessage ? { fetchMessage: options.fetchMessage } : {}),
    ...(options.normalize ? { normalize: options.normalize } : {}),
    ...(options.onFatal ? { onFatal: options.onFatal } : {}),
  });
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
        const live = processor.live;
        res
          .writeHead(live ? 200 : 503, { 'content-type': 'text/plain' })
          .end(live ? 'ok' : `stalled: a partition has made no progress for ${processor.longestStall} s`);
      } else if (path === '/readyz') {
        const ready = processor.ready;
        res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready' : 'not ready');
      } else {
        res.writeHead(404).end();
      }
    });
    const address = await listen(server, config.metricsPort);
    url = `http://127.0.0.1:${address.port}`;
  }
  try {
    await processor.start();
  } catch (err) {
    await processor.stop().catch(() => undefined);
    server?.close();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    processor,
    metrics,
    url,
    stop() {
      stopped ??= (async () => {
        await processor.stop();
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      })();
      return stopped;
    },
  };
}
