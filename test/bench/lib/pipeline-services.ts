/**
 * The whole pipeline as the end-to-end and soak scenarios run it: per-scenario topics, a real
 * `nylas-stream ingress` and `nylas-stream processor` (compiled CLI, own processes) on free ports, and
 * what the load generator needs to sign for the ingress and to serve the Nylas API the processor calls.
 */
import type { ServiceProcess } from '../../../cli/up/supervisor';
import { loadTopicsConfig, type TopicsConfig } from '../../../lib/config';
import { type BenchContext, freePort, newStateDir, startService } from './context';
import { scenarioTopics, uniqueName } from './infra';

/** What the load generator signs with and serves the Nylas API under (startTraffic), before the services start. */
export const PIPELINE_TRAFFIC = {
  secret: 'bench-webhook-secret',
  apiKey: 'bench-api-key',
  apiPort: 0,
} as const;

export interface PipelineServices {
  topics: TopicsConfig;
  groupId: string;
  ingress: ServiceProcess;
  processor: ServiceProcess;
  webhookUrl: string;
  ingressMetricsUrl: string;
  processorMetricsUrl: string;
  /** The processor's PROCESSOR_STATE_DIR. */
  processorStateDir: string;
}

export async function startPipelineServices(
  ctx: BenchContext,
  o: {
    prefix: string;
    /** The simulated Nylas API the processor expands through (startTraffic's apiUrl). */
    apiUrl: string;
    nameSuffix?: string;
    processorEnv?: Record<string, string>;
  },
): Promise<PipelineServices> {
  const topicEnv = await scenarioTopics(ctx.infra, o.prefix, 12);
  const common = { ...ctx.infra.env, ...topicEnv, LOG_LEVEL: 'warn' };
  const [ingressPort, metricsPort] = [await freePort(), await freePort()];
  const groupId = uniqueName(`${o.prefix}-processor`);
  const suffix = o.nameSuffix ?? '';
  const processorStateDir = newStateDir(ctx, `processor${suffix}`);
  const ingress = await startService(ctx, 'ingress', {
    name: `ingress${suffix}`,
    args: ['ingress'],
    env: {
      ...common,
      INGRESS_PORT: String(ingressPort),
      INGRESS_HOST: '127.0.0.1',
      NYLAS_WEBHOOK_SECRETS: PIPELINE_TRAFFIC.secret,
    },
    readyUrl: `http://127.0.0.1:${ingressPort}/readyz`,
  });
  const processor = await startService(ctx, 'processor', {
    name: `processor${suffix}`,
    args: ['processor'],
    env: {
      ...common,
      PROCESSOR_GROUP_ID: groupId,
      PROCESSOR_METRICS_PORT: String(metricsPort),
      PROCESSOR_STATE_DIR: processorStateDir,
      NYLAS_API_KEY: PIPELINE_TRAFFIC.apiKey,
      NYLAS_API_URI: o.apiUrl,
      ...o.processorEnv,
    },
    readyUrl: `http://127.0.0.1:${metricsPort}/readyz`,
    readyTimeoutMs: 120_000,
  });
  return {
    topics: loadTopicsConfig({ ...topicEnv }),
    groupId,
    ingress,
    processor,
    webhookUrl: `http://127.0.0.1:${ingressPort}/webhooks/nylas`,
    ingressMetricsUrl: `http://127.0.0.1:${ingressPort}/metrics`,
    processorMetricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    processorStateDir,
  };
}
