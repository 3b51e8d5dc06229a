/**
 * A request already on its way over a keep-alive connection when the ingress starts stopping is
 * answered (503 with Connection: close), not reset. Node counts a connection idle until it has read the
 * next request's bytes, so closing idle connections at the signal reset requests a client had written
 * just before it (the child-process shutdown test saw "other side closed" now and then). Here the
 * second request is written and stop() called in the same tick, before the server can read it.
 */
import { connect, type Socket } from 'node:net';
import { startTestIngress } from '../../helpers/ingress';
import { brokerFixture, pollUntil } from '../../helpers/kafka';

const HEALTH = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n';
const NOTIFICATION =
  'POST /webhooks/nylas HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';

describe('ingress stop with a request on an idle keep-alive connection (real broker)', () => {
  const broker = brokerFixture();

  it('answers the request written just before stop() instead of closing the connection under it', async () => {
    const ingress = await startTestIngress(broker.admin);
    let socket: Socket | undefined;
    try {
      let reply = '';
      let closed = false;
      socket = connect({ host: '127.0.0.1', port: ingress.running.port });
      socket.on('data', (c: Buffer) => {
        reply += c.toString('latin1');
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        closed = true;
      });
      await new Promise<void>((resolve) => socket?.once('connect', () => resolve()));
      socket.write(HEALTH);
      await pollUntil(() => /\r\n\r\n/.test(reply), { timeoutMs: 10_000, description: 'the first answer' });
      expect(reply).toMatch(/^HTTP\/1\.1 200/);

      // Idle now. The next request leaves this side and stop() starts in the same tick.
      socket.write(NOTIFICATION);
      const stopped = ingress.stop();
      await pollUntil(() => closed, { timeoutMs: 30_000, description: 'the server to close the connection' });
      await stopped;

      const answers = reply.match(/HTTP\/1\.1 \d{3}/g) ?? [];
      expect(answers).toEqual(['HTTP/1.1 200', 'HTTP/1.1 503']);
      expect(reply).toMatch(/SHUTTING_DOWN/);
      expect(reply.slice(reply.lastIndexOf('HTTP/1.1 503'))).toMatch(/\r\nConnection: close\r\n/i);
    } finally {
      socket?.destroy();
      await ingress.stop().catch(() => undefined);
    }
  });
});
