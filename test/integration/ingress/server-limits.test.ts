/**
 * The HTTP server's own limits as startIngress sets them (real broker): a connection that never
 * completes its head is cut at INGRESS_HEADERS_TIMEOUT_MS (node checks every second, not every 30 s),
 * and an idle keep-alive connection is closed after INGRESS_KEEP_ALIVE_TIMEOUT_MS.
 */
import { connect } from 'node:net';
import type { Admin, Kafka } from 'kafkajs';
import { startTestIngress, type TestIngress } from '../../helpers/ingress';
import { testKafka } from '../../helpers/kafka';

/** Sends `text` and resolves with what came back and whether the server closed the connection before
 * this side gave up after `giveUpMs` (far longer than the limits under test, far shorter than node's
 * defaults of 60 s for a head and 65 s here for keep-alive). */
function closedAfter(
  port: number,
  text: string,
  giveUpMs: number,
): Promise<{ reply: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (closedByServer: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply, closedByServer });
    };
    const timer = setTimeout(() => finish(false), giveUpMs);
    socket.on('data', (c: Buffer) => {
      reply += c.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => finish(true));
    socket.on('connect', () => socket.write(text));
  });
}

describe('ingress server limits (real broker)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let ingress: TestIngress;

  beforeAll(async () => {
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
    ingress = await startTestIngress(admin, {
      env: {
        INGRESS_HEADERS_TIMEOUT_MS: '500',
        INGRESS_BODY_DEADLINE_MS: '500',
        INGRESS_KEEP_ALIVE_TIMEOUT_MS: '1000',
      },
    });
  });

  afterAll(async () => {
    await ingress?.stop();
    await admin?.disconnect();
  });

  it('cuts a head that never completes, and a connection that says nothing, with 408', async () => {
    const port = ingress.running.port;
    const [partial, silent] = await Promise.all([
      closedAfter(port, 'POST /webhooks/nylas HTTP/1.1\r\nHost: x\r\n', 20_000),
      closedAfter(port, '', 20_000),
    ]);
    for (const r of [partial, silent])
      expect(r).toEqual({ reply: expect.stringMatching(/^HTTP\/1\.1 408/), closedByServer: true });
  });

  it('closes an idle keep-alive connection after INGRESS_KEEP_ALIVE_TIMEOUT_MS', async () => {
    const r = await closedAfter(
      ingress.running.port,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n',
      20_000,
    );
    expect(r).toEqual({ reply: expect.stringMatching(/^HTTP\/1\.1 200/), closedByServer: true });
  });
});
