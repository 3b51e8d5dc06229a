/**
 * The ingress's metrics, on an injected registry, named exactly as lib/metric-names.ts catalogs them.
 * Labels stay bounded: route ("challenge" | "notification"), status, reason — never ids or destinations.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRICS } from '../lib/metric-names';

export type IngressRoute = 'challenge' | 'notification';

export interface IngressMetrics {
  registry: Registry;
  requests: Counter<'route' | 'status'>;
  signatureFailures: Counter<'reason'>;
  ackLatency: Histogram<string>;
  payloadBytes: Histogram<string>;
  inFlight: Gauge<string>;
  producerUp: Gauge<string>;
  batchRecords: Histogram<string>;
  rejected: Counter<'reason' | 'recorded'>;
}

export function createIngressMetrics(registry: Registry): IngressMetrics {
  const m = METRICS;
  return {
    registry,
    requests: new Counter({
      name: m.ingressRequests.name,
      help: m.ingressRequests.help,
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    signatureFailures: new Counter({
      name: m.ingressSignatureFailures.name,
      help: m.ingressSignatureFailures.help,
      labelNames: ['reason'],
      registers: [registry],
    }),
    ackLatency: new Histogram({
      name: m.ingressAckLatency.name,
      help: m.ingressAckLatency.help,
      // Fine below 100 ms (the normal case), coarse up to Nylas's 10 s deadline.
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 10],
      registers: [registry],
    }),
    payloadBytes: new Histogram({
      name: m.ingressPayloadBytes.name,
      help: m.ingressPayloadBytes.help,
      buckets: [256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 5_242_880],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: m.ingressInFlight.name,
      help: m.ingressInFlight.help,
      registers: [registry],
    }),
    producerUp: new Gauge({
      name: m.ingressProducerUp.name,
      help: m.ingressProducerUp.help,
      registers: [registry],
    }),
    batchRecords: new Histogram({
      name: m.ingressBatchSize.name,
      help: m.ingressBatchSize.help,
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers: [registry],
    }),
    rejected: new Counter({
      name: m.ingressRejected.name,
      help: m.ingressRejected.help,
      labelNames: ['reason', 'recorded'],
      registers: [registry],
    }),
  };
}
