/**
 * Ingress baseline (b) of `npm run bench` (scenarios/ingress.ts): a naive express handler that verifies the
 * signature on the raw body, reads the grant id and awaits one `producer.send` per request — with the
 * same guarantees as the ingress (idempotent producer, acks=all, 200 only after the acknowledgement),
 * but no micro-batching. kafkajs's idempotent producer allows one produce request in flight, so these
 * sends queue behind each other.
 *
 *   KAFKA_BROKERS=… TOPIC_RAW=… NYLAS_WEBHOOK_SECRETS=… PORT=… node test/helpers/run-ts.js test/bench/baselines/naive-express.ts
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import express from 'express';
import { logLevel as kafkaLogLevel, Partitioners } from 'kafkajs';
import { loadCommonConfig } from '../../../lib/config';
import { createKafka } from '../../../lib/kafka';
import { applyKafkajsAdaptations } from '../../../lib/kafkajs';
import { silentLogger } from '../../../lib/logger';

export async function main(): Promise<number> {
  const config = loadCommonConfig(process.env);
  const secret = process.env.NYLAS_WEBHOOK_SECRETS ?? 'test-secret';
  const port = Number(process.env.PORT ?? 3001);
  applyKafkajsAdaptations(silentLogger());
  const kafka = createKafka(config.kafka, silentLogger(), 'naive');
  kafka.logger().setLogLevel(kafkaLogLevel.NOTHING);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();

  const app = express();
  app.post('/webhooks/nylas', express.raw({ type: () => true, limit: '5mb' }), async (req, res) => {
    const body = req.body as Buffer;
    const given = Buffer.from(String(req.headers['x-nylas-signature'] ?? ''), 'hex');
    const expected = createHmac('sha256', secret).update(body).digest();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.status(401).end();
      return;
    }
    const envelope = JSON.parse(body.toString('utf8'));
    const grantId =
      envelope?.data?.object?.grant_id ?? envelope?.data?.grant_id ?? envelope?.data?.application_id;
    try {
      await producer.send({
        topic: config.topics.raw,
        acks: -1,
        messages: [
          {
            key: grantId ?? null,
            value: body,
            headers: {
              'nylas-signature': String(req.headers['x-nylas-signature']),
              'nylas-notification-id': String(envelope.id),
              'received-at': String(Date.now()),
            },
          },
        ],
      });
      res.status(200).json({ ok: true });
    } catch {
      res.status(503).end();
    }
  });
  app.get('/readyz', (_req, res) => {
    res.status(200).end();
  });
  const server = app.listen(port, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  console.log(JSON.stringify({ msg: 'naive listening', port }));
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  server.close();
  await producer.disconnect();
  return 0;
}
