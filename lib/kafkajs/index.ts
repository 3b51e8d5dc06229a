/**
 * The run-time adaptations of kafkajs internals, applied explicitly at start-up by whatever creates
 * Kafka clients (the ingress, the processor, the CLI and bench commands); createKafka() installs nothing.
 * Why each exists, what it changes and how to check it after a kafkajs upgrade:
 * docs/decisions/0002-kafkajs-adaptations.md.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../logger';
import { METRICS } from '../metric-names';
import type { AdaptationStatus } from './adaptation';
import { installCoordinatorCache } from './coordinator-cache';
import { installEncoderBuffers } from './encoder-buffers';
import { installIdleRequestQueue } from './idle-request-queue';
import { installNativeCrc32c } from './native-crc32c';
import { installKeyHashPartitioner } from './partitioner';
import { installProduceEncoder } from './produce-encoder';
import { installReadCommitted } from './read-committed';
import { installSendRetry } from './send-retry';

export type { AdaptationName, AdaptationStatus } from './adaptation';

/** Installs every adaptation (each at most once per process) and returns their statuses. */
export function installKafkajsAdaptations(): AdaptationStatus[] {
  return [
    installCoordinatorCache(),
    installEncoderBuffers(),
    installProduceEncoder(),
    installNativeCrc32c(),
    installKeyHashPartitioner(),
    installReadCommitted(),
    installSendRetry(),
    installIdleRequestQueue(),
  ];
}

function adaptationGauge(registry: Registry): Gauge<'adaptation'> {
  const spec = METRICS.kafkajsAdaptationActive;
  const existing = registry.getSingleMetric(spec.name);
  if (existing instanceof Gauge) return existing;
  return new Gauge({ name: spec.name, help: spec.help, labelNames: ['adaptation'], registers: [registry] });
}

/**
 * Installs the adaptations, logs each one's status (a warning for an inactive one: kafkajs still works,
 * but what the adaptation was for no longer holds) and, given a registry, exports them as
 * nylas_stream_kafkajs_adaptation_active{adaptation}. Safe to call more than once. `install` is for tests
 * of the reporting.
 */
export function applyKafkajsAdaptations(
  logger: Logger,
  registry?: Registry,
  install: () => AdaptationStatus[] = installKafkajsAdaptations,
): AdaptationStatus[] {
  const statuses = install();
  const log = logger.child({ component: 'kafkajs' });
  const gauge = registry ? adaptationGauge(registry) : undefined;
  for (const s of statuses) {
    if (s.active) log.info({ adaptation: s.name }, 'kafkajs adaptation active');
    else
      log.warn(
        { adaptation: s.name, reason: s.reason },
        'kafkajs adaptation inactive; kafkajs runs as published',
      );
    gauge?.set({ adaptation: s.name }, s.active ? 1 : 0);
  }
  return statuses;
}
