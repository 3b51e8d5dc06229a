/**
 * What the processor runs on, built before it starts (the way ingress/index.ts builds the ingress's):
 * the Kafka client and a connected admin, the topics checked, the domain schemas registered, the Nylas
 * API worker thread started, the expander and the pipeline. A step that fails closes what the earlier
 * ones opened.
 */
import { getHeapStatistics } from 'node:v8';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import { retryStartupStep } from '../lib/backoff';
import type { TopicsConfig } from '../lib/config';
import { ErrorCodes, errorMessage, NylasStreamError } from '../lib/errors';
import { createKafka } from '../lib/kafka';
import type { Logger } from '../lib/logger';
import { createSchemaRegistry } from '../lib/schema-registry';
import { registerDomainSchemas } from '../schemas/index';
import { type ApiBudget, apiBudget } from './api-budget';
import type { PageFetcher } from './backfill/list-client';
import type { ProcessorConfig } from './config';
import { ExpansionBudget, expansionBudgetBytes } from './expansion-budget';
import type { ProcessorMetrics } from './metrics';
import { Pipeline } from './pipeline';
import type { ProcessorDeps } from './processor';
import { Expander, type MessageFetcher } from './stages/expand';
import { threadedMessageFetcher } from './stages/expand-thread';
import { normalize as defaultNormalize } from './stages/normalize';
import { DomainEventEncoder } from './stages/publish';
import type { DomainEvent, Notification } from './types';

export interface DependencyOptions {
  kafka?: Kafka;
  schemaRegistry?: SchemaRegistry;
  /** Replaces the SDK fetcher and its worker thread (tests). */
  fetchMessage?: MessageFetcher;
  /** Replaces the backfill coordinator's HTTP list client (tests). */
  fetchPage?: PageFetcher;
  /** Replaces the normalize stage (tests that inject a failing stage). */
  normalize?: (n: Notification, topics: TopicsConfig) => DomainEvent;
}

type Built = Pick<ProcessorDeps, 'kafka' | 'admin' | 'statePartitions' | 'pipeline' | 'expansion'> & {
  /** The instance's Nylas API budget: the expander's, shared with the backfill coordinator. */
  budget: ApiBudget;
};

export async function processorDependencies(
  config: ProcessorConfig,
  logger: Logger,
  metrics: ProcessorMetrics,
  options: DependencyOptions = {},
): Promise<Built> {
  const log = logger.child({ component: 'processor' });
  const kafka = options.kafka ?? createKafka(config.kafka, log, 'processor');
  const admin = kafka.admin();
  const opened: Array<() => Promise<void>> = [() => admin.disconnect()];
  try {
    await admin.connect();
    const statePartitions = await checkTopics(config, admin);
    const registry = options.schemaRegistry ?? createSchemaRegistry(config.registry);
    const schemaIds = await retryStartupStep(
      () => registerDomainSchemas(registry, config.topics),
      (err, attempt) => log.warn({ err, attempt }, 'register schemas failed, retrying'),
    );
    let fetch = options.fetchMessage;
    let closeThread: () => Promise<void> = async () => undefined;
    if (fetch === undefined) {
      // The SDK calls run on a worker thread (stages/expand-thread.ts says why).
      const thread = threadedMessageFetcher({
        apiKey: config.nylas.apiKey,
        apiUri: config.nylas.apiUri,
        requestTimeoutMs: config.expansion.requestTimeoutMs,
      });
      closeThread = () => thread.close().catch(() => undefined);
      opened.push(closeThread);
      await thread.ready().catch((err: unknown) => {
        throw new NylasStreamError(
          ErrorCodes.INFRA_START_FAILED,
          `the Nylas API worker thread did not start: ${errorMessage(err)}`,
          { cause: err },
        );
      });
      fetch = thread;
    }
    const budget = apiBudget(config.expansion.concurrency);
    const memory = new ExpansionBudget(
      expansionBudgetBytes({
        configured: config.expansion.maxHeldBytes,
        heapLimitBytes: getHeapStatistics().heap_size_limit,
        reserveBytes: config.topics.maxMessageBytes,
        concurrency: config.expansion.concurrency,
      }),
      config.topics.maxMessageBytes,
    );
    log.info(
      {
        expansionMaxHeldMb: Math.round(memory.maxBytes / 2 ** 20),
        configured: config.expansion.maxHeldBytes > 0,
      },
      'expansion memory budget',
    );
    metrics.watchExpansionBudget(memory);
    const expander = new Expander({
      fetch,
      budget,
      memory,
      concurrency: config.expansion.concurrency,
      deadlineMs: config.expansion.deadlineMs,
      requestTimeoutMs: config.expansion.requestTimeoutMs,
      backoffBaseMs: config.expansion.backoffBaseMs,
      backoffMaxMs: config.expansion.backoffMaxMs,
      observer: metrics,
    });
    const pipeline = new Pipeline({
      topics: config.topics,
      dedupeWindowMs: config.dedupeWindowMs,
      acceptWindowMs: config.acceptWindowMs,
      deferAfterMs: config.expansion.deferAfterMs,
      normalize: options.normalize ?? defaultNormalize,
      encoder: new DomainEventEncoder(schemaIds),
      expand: (n, dropped) => expander.expand(n, dropped),
    });
    const expansion = {
      async close() {
        expander.close();
        await closeThread();
      },
    };
    return { kafka, admin, statePartitions, pipeline, expansion, budget };
  } catch (err) {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    throw err;
  }
}

/** The raw, state, DLQ, backfill and known-objects topics must exist; returns the state topic's partition count. */
async function checkTopics(config: ProcessorConfig, admin: ProcessorDeps['admin']): Promise<number> {
  const existing = new Set(await admin.listTopics());
  const t = config.topics;
  const missing = [t.raw, t.state, t.dlq, t.backfill, t.knownObjects].filter((name) => !existing.has(name));
  if (missing.length > 0) {
    throw new NylasStreamError(
      ErrorCodes.CONFIG_INVALID,
      `topics ${missing.join(', ')} do not exist; create them with \`nylas-stream topics create\` (or \`nylas-stream up\`)`,
    );
  }
  const meta = await admin.fetchTopicMetadata({ topics: [config.topics.state] });
  return meta.topics[0]?.partitions.length ?? 0;
}
