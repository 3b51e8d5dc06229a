/**
 * SIGTERM during load, on the real command in a child process (`nylas-stream ingress`): the process
 * stops accepting, finishes what is in flight, flushes and exits 0 — and every request that got a 200
 * is in the topic. Requests in flight when the signal arrives get an answer, not a reset.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import { LoadRun } from '../../helpers/ingress-load';
import {
  createTopics,
  headerString,
  pollUntil,
  TopicCollector,
  testKafka,
  uniqueName,
} from '../../helpers/kafka';

const RUN_CLI = join(__dirname, '..', '..', 'helpers', 'run-cli.js');

jest.setTimeout(180_000);

describe('ingress graceful shutdown (child process)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await admin?.disconnect();
  });

  it('SIGTERM during load: exit 0, in-flight requests answered, every 200 in the topic', async () => {
    const rawTopic = uniqueName('shutdown-raw');
    const rejectedTopic = uniqueName('shutdown-rejected');
    await createTopics(admin, [rawTopic], 3);
    await createTopics(admin, [rejectedTopic], 1);

    const proc = spawn(process.execPath, [RUN_CLI, 'ingress'], {
      env: {
        ...process.env,
        LOG_LEVEL: 'info',
        INGRESS_HOST: '127.0.0.1',
        INGRESS_PORT: '0',
        NYLAS_WEBHOOK_SECRETS: 'test-secret',
        TOPIC_RAW: rawTopic,
        TOPIC_REJECTED: rejectedTopic,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    let stdout = '';
    let stderr = '';
    proc.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });

    const url = await pollUntil(
      () => {
        if (proc.exitCode !== null) throw new Error(`ingress exited early:\n${stderr}\n${stdout}`);
        for (const line of stdout.split('\n')) {
          if (line.includes('"ingress listening"')) return JSON.parse(line).url as string;
        }
        return undefined;
      },
      { timeoutMs: 60_000, description: 'the child ingress to listen' },
    );
    await pollUntil(async () => (await fetch(`${url}/readyz`)).status === 200, {
      timeoutMs: 60_000,
      description: 'the child ingress to be ready',
    });

    const load = new LoadRun({ url: `${url}/webhooks/nylas`, concurrency: 32, stopOnConnectionError: true });
    await pollUntil(() => load.count(200) >= 300, { timeoutMs: 60_000, description: '300 accepted' });
    const signalledAt = Date.now();
    proc.kill('SIGTERM');
    const code = await exited;
    await load.stop();

    expect(code).toBe(0);
    expect(stdout).toContain('"ingress stopped"');
    const accepted = load.results.filter((r) => r.status === 200);
    console.log(
      `${load.results.length} answers: ${accepted.length} × 200, ${load.count(503)} × 503, ` +
        `${load.count(0)} refused after close; ${accepted.filter((r) => r.endedAt >= signalledAt).length} × 200 after SIGTERM`,
    );
    // Only 200, 503 (shutting down) or a refused connection once the server closed.
    for (const r of load.results) expect([0, 200, 503]).toContain(r.status);
    // Requests in flight at the signal were answered (none reset).
    expect(load.results.filter((r) => r.status === 0 && r.startedAt < signalledAt)).toEqual([]);
    expect(accepted.filter((r) => r.endedAt >= signalledAt).length).toBeGreaterThan(0);

    const collector = await new TopicCollector(kafka, [rawTopic]).start();
    try {
      const ids = new Set(accepted.map((r) => r.id));
      await pollUntil(
        () => {
          const seen = new Set(
            collector.records.map((r) => headerString(r.headers, 'nylas-notification-id')),
          );
          const missing = [...ids].filter((id) => !seen.has(id));
          return missing.length === 0;
        },
        { timeoutMs: 60_000, description: `all ${ids.size} accepted ids in the topic` },
      );
    } finally {
      await collector.stop();
    }
  });
});
