/**
 * A free TCP port on 127.0.0.1, chosen by the kernel (listen on 0, close). Tests that start a server in
 * another process pass it on; a fixed port can be taken at any time by another run's listen(0).
 */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
