/**
 * A real Prometheus (Debian's package, installed by deploy/prometheus/ensure-promtool.sh when missing)
 * loads deploy/prometheus/prometheus.yml and the rules, scrapes a running ingress and processor, and
 * answers queries for their series and for the recording rules built on them: the scrape config, the
 * rules and the metric names all meet the real services.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import { parse, stringify } from 'yaml';
import { loadIngressConfig } from '../../../ingress/config';
import { type RunningIngress, startIngress } from '../../../ingress/index';
import { loadCommonConfig } from '../../../lib/config';
import { silentLogger } from '../../../lib/logger';
import { createMetricsRegistry } from '../../../lib/metrics';
import { ensureTopics, topicPlan } from '../../../lib/topics';
import { loadProcessorConfig, type RunningProcessor, startProcessor } from '../../../processors/index';
import { createMockNotifications, SIGNATURE_HEADER, signBody } from '../../../simulator/index';
import { pollUntil, testKafka, uniqueName } from '../../helpers/kafka';
import { exportedMetricNames, REPO_ROOT, requirePrometheusTool } from '../../helpers/promql';
import { uniqueTopicEnv } from '../../helpers/topic-env';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

describe('Prometheus against the running services', () => {
  const env = {
    ...uniqueTopicEnv('prom', 1),
    PROCESSOR_GROUP_ID: uniqueName('prom-processor'),
    LOG_LEVEL: 'silent',
  };
  const secret = 'prometheus-test-secret';
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-it-'));
  let admin: Admin;
  let ingress: RunningIngress | undefined;
  let processor: RunningProcessor | undefined;
  let prometheus: ChildProcess | undefined;
  let promUrl = '';
  let promLog = '';

  beforeAll(async () => {
    const binary = requirePrometheusTool('prometheus');
    const common = loadCommonConfig({ ...process.env, ...env });
    admin = testKafka(common).admin();
    await admin.connect();
    await ensureTopics(admin, topicPlan(common.topics));
    ingress = await startIngress(
      loadIngressConfig({
        ...process.env,
        ...env,
        INGRESS_PORT: '0',
        INGRESS_HOST: '127.0.0.1',
        NYLAS_WEBHOOK_SECRETS: `default=${secret}`,
      }),
      { logger: silentLogger(), registry: createMetricsRegistry({ service: 'ingress' }) },
    );
    processor = await startProcessor(
      loadProcessorConfig({ ...process.env, ...env, NYLAS_API_KEY: 'unused', PROCESSOR_METRICS_PORT: '0' }),
      { logger: silentLogger(), registry: createMetricsRegistry({ service: 'processor' }), http: true },
    );

    // The shipped scrape config, pointed at this test's ports and scraping every second.
    const shipped = parse(
      readFileSync(join(REPO_ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8'),
    ) as {
      global: Record<string, string>;
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const ports: Record<string, string> = {
      'nylas-stream-ingress': new URL(ingress.url).host,
      'nylas-stream-processor': new URL(processor.url as string).host,
    };
    const config = {
      ...shipped,
      global: { ...shipped.global, scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: shipped.rule_files.map((f) => join(REPO_ROOT, 'deploy', 'prometheus', f)),
      scrape_configs: shipped.scrape_configs.map((s) => ({
        ...s,
        static_configs: [{ targets: [ports[s.job_name]] }],
      })),
    };
    expect(Object.keys(ports).sort()).toEqual(shipped.scrape_configs.map((s) => s.job_name).sort());
    writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      binary,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stderr?.on('data', (d: Buffer) => {
      promLog = (promLog + d.toString()).slice(-4000);
    });
    await pollUntil(async () => (await fetch(`${promUrl}/-/ready`)).ok, {
      timeoutMs: 60_000,
      description: 'Prometheus to be ready',
    });
  });

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await processor?.stop();
    await ingress?.stop();
    await admin
      .deleteTopics({ topics: topicPlan(loadCommonConfig({ ...env }).topics).map((s) => s.name) })
      .catch(() => undefined);
    await admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  async function query(expr: string): Promise<PromVector[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; data?: { result: PromVector[] }; error?: string };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error} (prometheus log: ${promLog})`);
    return body.data?.result ?? [];
  }

  it('scrapes both services and answers for their series and the recording rules', async () => {
    // One notification through the ingress and the processor.
    const body = JSON.stringify(createMockNotifications('app-prom')('message.created'));
    const res = await fetch(`${ingress?.url}/webhooks/nylas`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(body, secret) },
      body,
    });
    expect(res.status).toBe(200);

    const up = await pollUntil(
      async () => {
        const r = await query('up{job=~"nylas-stream-.*"} == 1');
        return r.length === 2 ? r : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, description: `both targets up (prometheus log: ${promLog})` },
    );
    expect(up.map((s) => s.metric.job).sort()).toEqual(['nylas-stream-ingress', 'nylas-stream-processor']);

    const ingressSeries = await pollUntil(
      async () => (await query('nylas_stream_ingress_requests_total{status="200"}')).at(0),
      { timeoutMs: 30_000, intervalMs: 500, description: 'the ingress request counter' },
    );
    expect(ingressSeries.metric).toEqual(
      expect.objectContaining({ job: 'nylas-stream-ingress', service: 'ingress' }),
    );
    expect(Number(ingressSeries.value[1])).toBeGreaterThanOrEqual(1);

    const processorSeries = await pollUntil(
      async () => (await query('nylas_stream_processor_notifications_total{outcome="emitted"}')).at(0),
      { timeoutMs: 30_000, intervalMs: 500, description: 'the processor emitted counter' },
    );
    expect(processorSeries.metric).toEqual(
      expect.objectContaining({ job: 'nylas-stream-processor', service: 'processor', family: 'message' }),
    );

    // Recording rules evaluate on the real series (the rate needs two scrapes of the counter).
    await pollUntil(
      async () => (await query('nylas_stream:ingress_requests:rate5m{status="200"}')).length === 1,
      {
        timeoutMs: 30_000,
        intervalMs: 500,
        description: 'the ingress recording rule',
      },
    );
    const rules = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
      data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const unhealthy = rules.data.groups.flatMap((g) =>
      g.rules.filter((r) => r.health === 'err').map((r) => `${r.name}: ${r.lastError}`),
    );
    expect(rules.data.groups.map((g) => g.name).sort()).toEqual([
      'nylas-stream.alerts',
      'nylas-stream.recording',
    ]);
    expect(unhealthy).toEqual([]);

    // Everything the services export is in the catalog (or prom-client's process metrics), so the
    // dashboard and the rules can see it.
    const names = (await (await fetch(`${promUrl}/api/v1/label/__name__/values`)).json()) as {
      data: string[];
    };
    const exported = exportedMetricNames();
    const ours = names.data.filter((n) => n.startsWith('nylas_stream_'));
    expect(ours.length).toBeGreaterThan(10);
    expect(ours.filter((n) => !exported.has(n))).toEqual([]);
  });
});
