/**
 * The compiled ingress (`node dist/cli/index.js ingress`) as its own process on the shared test broker,
 * on a free port of 127.0.0.1, with fresh raw and rejected topics: what the fuzz and attack tests hit.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { ServiceProcess } from '../../../cli/up/supervisor';
import { createTopics, uniqueName } from '../../helpers/kafka';
import { freePort } from '../../helpers/ports';
import { requireBuild } from './pipeline';

export interface IngressProcess {
  ingress: ServiceProcess;
  port: number;
  rawTopic: string;
  rejectedTopic: string;
  /** SIGTERM (SIGKILL if that fails) and delete the topics. */
  stop(): Promise<void>;
}

export async function startIngressProcess(
  admin: Admin,
  name: string,
  env: Record<string, string>,
): Promise<IngressProcess> {
  requireBuild();
  const port = await freePort();
  const rawTopic = uniqueName(`${name}-raw`);
  const rejectedTopic = uniqueName(`${name}-rejected`);
  await createTopics(admin, [rawTopic], 3);
  await createTopics(admin, [rejectedTopic], 1);
  const ingress = new ServiceProcess({
    name,
    args: ['ingress'],
    env: {
      KAFKA_BROKERS: process.env.KAFKA_BROKERS as string,
      TOPIC_RAW: rawTopic,
      TOPIC_REJECTED: rejectedTopic,
      INGRESS_PORT: String(port),
      INGRESS_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    logDir: join(tmpdir(), `nylas-stream-${name}`),
    readyTimeoutMs: 120_000,
  });
  await ingress.start();
  return {
    ingress,
    port,
    rawTopic,
    rejectedTopic,
    stop: async () => {
      await ingress.stop().catch(() => ingress.kill());
      await admin.deleteTopics({ topics: [rawTopic, rejectedTopic] }).catch(() => undefined);
    },
  };
}
