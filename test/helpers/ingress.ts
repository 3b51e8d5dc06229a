/**
 * Starts a real ingress (in this process, on 127.0.0.1 and an ephemeral port) against the test broker,
 * with its own raw and rejected topics, and waits until its producer is connected.
 */
import type { Admin } from 'kafkajs';
import { type RunningIngress, startIngress } from '../../ingress';
import { type IngressConfig, loadIngressConfig } from '../../ingress/config';
import { type Logger, silentLogger } from '../../lib/logger';
import { createMetricsRegistry } from '../../lib/metrics';
import { createTopics, pollUntil, uniqueName } from './kafka';

export interface TestIngress {
  running: RunningIngress;
  config: IngressConfig;
  rawTopic: string;
  rejectedTopic: string;
  /** POST/GET target for the default destination. */
  webhookUrl: string;
  stop(): Promise<void>;
}

export interface TestIngressOptions {
  env?: Record<string, string>;
  /** Create the topics (default) or use those named in env. */
  createTopics?: boolean;
  partitions?: number;
  waitReady?: boolean;
  /** Where the ingress logs (default: nowhere). It is also handed `env`, as the CLI hands it the process's
   * environment, so it warns there about unknown variables under its prefixes. */
  logger?: Logger;
}

export function testIngressConfig(env: Record<string, string> = {}): IngressConfig {
  return loadIngressConfig({
    ...process.env,
    LOG_LEVEL: 'silent',
    INGRESS_HOST: '127.0.0.1',
    INGRESS_PORT: '0',
    NYLAS_WEBHOOK_SECRETS: 'test-secret',
    ...env,
  });
}

export async function startTestIngress(admin: Admin, options: TestIngressOptions = {}): Promise<TestIngress> {
  const rawTopic = options.env?.TOPIC_RAW ?? uniqueName('raw');
  const rejectedTopic = options.env?.TOPIC_REJECTED ?? uniqueName('rejected');
  if (options.createTopics ?? true) {
    await createTopics(admin, [rawTopic], options.partitions ?? 3);
    await createTopics(admin, [rejectedTopic], 1);
  }
  const config = testIngressConfig({
    TOPIC_RAW: rawTopic,
    TOPIC_REJECTED: rejectedTopic,
    ...(options.env ?? {}),
  });
  const running = await startIngress(config, {
    logger: options.logger ?? silentLogger(),
    env: options.env ?? {},
    registry: createMetricsRegistry({ service: 'ingress', collectDefaults: false }),
  });
  if (options.waitReady ?? true) {
    await pollUntil(() => running.isReady(), {
      timeoutMs: 30_000,
      description: 'ingress producer connected',
    });
  }
  return {
    running,
    config,
    rawTopic,
    rejectedTopic,
    webhookUrl: `${running.url}/webhooks/nylas`,
    stop: () => running.stop(),
  };
}
