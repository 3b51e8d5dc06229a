/**
 * Metrics live on an injected prom-client Registry: each service builds its own, tests build a
 * fresh one and assert on it. Every metric name starts with `nylas_stream_` (docs/architecture.md).
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

export const METRIC_PREFIX = 'nylas_stream_';

export interface MetricsRegistryOptions {
  service: string;
  /** Process metrics (CPU, RSS, event-loop lag). Off in unit tests to keep them fast and deterministic. */
  collectDefaults?: boolean;
}

export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.collectDefaults ?? true) {
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  }
  return registry;
}
