/**
 * Baseline (a), the ceiling for our design: a bare node:http server doing only what the contract
 * requires — read the raw bytes, verify X-Nylas-Signature, find id/type/grant, build the same raw record
 * — and publishing through the very same micro-batcher and idempotent producer as the ingress (acks=all,
 * 200 only after the acknowledgement). No express, no metrics, no admission control, no rejected-topic
 * recording. The gap between this and the ingress is what our HTTP layer costs.
 *
 * Configured like the ingress (INGRESS_PORT, NYLAS_WEBHOOK_SECRETS, KAFKA_BROKERS, TOPIC_RAW).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Partitioners } from 'kafkajs';
import { ProduceBatcher } from '../../../ingress/batcher';
import { readRawBody } from '../../../ingress/body';
import { loadIngressConfig } from '../../../ingress/config';
import { summarizeEnvelope } from '../../../ingress/envelope';
import { ProducerSupervisor } from '../../../ingress/producer';
import { SIGNATURE_HEADER, verifySignature } from '../../../ingress/signature';
import { createKafka } from '../../../lib/kafka';
import { applyKafkajsAdaptations } from '../../../lib/kafkajs';
import { createLogger } from '../../../lib/logger';
import { encodeRawRecord } from '../../../lib/raw-record';
import { serveParent } from '../lib/child';

async function main(): Promise<void> {
  const config = loadIngressConfig(process.env);
  const section = config.ingress;
  const logger = createLogger({ name: 'bench-bare-http', level: config.logLevel });
  const secrets = section.secrets.inline.default ?? [];
  applyKafkajsAdaptations(logger);
  const kafka = createKafka(config.kafka, logger, 'bench-bare-http');
  const supervisor = new ProducerSupervisor({
    createProducer: () =>
      kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: { retries: 5 },
      }),
    logger,
  });
  const batcher = new ProduceBatcher(
    supervisor,
    { ...section.batch, sendTimeoutMs: section.ackTimeoutMs, ackTimeoutMs: section.ackTimeoutMs },
    logger,
  );
  supervisor.start();

  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      const up = supervisor.isUp();
      res.writeHead(up ? 200 : 503).end();
      return;
    }
    const receivedAt = Date.now();
    const answer = (status: number, body: string) =>
      res
        .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
        .end(body);
    readRawBody(req, section.maxBodyBytes)
      .then(async (body): Promise<void> => {
        const signature = req.headers[SIGNATURE_HEADER];
        if (!verifySignature(body, signature, secrets).ok) {
          answer(401, '{"error":"signature"}');
          return;
        }
        let envelope: ReturnType<typeof summarizeEnvelope>;
        try {
          envelope = summarizeEnvelope(body);
        } catch {
          answer(400, '{"error":"malformed"}');
          return;
        }
        const record = encodeRawRecord({
          body,
          signature: String(signature).trim(),
          contentType: req.headers['content-type'] ?? 'application/json',
          contentEncoding: 'identity',
          destination: 'default',
          receivedAt,
          envelope,
        });
        try {
          await batcher.publish(config.topics.raw, record, receivedAt + section.ackTimeoutMs);
          answer(200, '{"ok":true}');
        } catch {
          res.setHeader('retry-after', '5');
          answer(503, '{"error":"unavailable"}');
        }
      })
      .catch(() => answer(400, '{"error":"body"}'));
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(section.port, section.host, resolve));
  const port = (server.address() as AddressInfo).port;
  while (!supervisor.isUp()) await new Promise((r) => setTimeout(r, 50));

  const stop = async () => {
    server.close();
    server.closeIdleConnections();
    await batcher.idle();
    await supervisor.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  serveParent(async () => undefined)({ url: `http://127.0.0.1:${port}` });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
