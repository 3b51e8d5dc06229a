/**
 * A registry that takes requests and never answers (most likely what held an e2e run still for 17 minutes
 * right after the registry's last answered registration, 2026-12-06) fails the call after SCHEMA_REGISTRY_TIMEOUT_MS instead of holding the caller.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { loadRegistryConfig } from '../../../lib/config';
import { createSchemaRegistry } from '../../../lib/schema-registry';

describe('schema registry client timeout (lib/schema-registry.ts)', () => {
  let server: Server;
  const sockets = new Set<Socket>();
  let port = 0;

  beforeAll(async () => {
    // Accepts every connection, reads the request, answers nothing.
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it('fails a request the registry never answers after SCHEMA_REGISTRY_TIMEOUT_MS', async () => {
    const config = loadRegistryConfig({
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${port}`,
      SCHEMA_REGISTRY_TIMEOUT_MS: '300',
    });
    expect(config.requestTimeoutMs).toBe(300);
    const registry = createSchemaRegistry(config);
    const started = Date.now();
    await expect(registry.getLatestSchemaId('any-value')).rejects.toThrow(/timeout/i);
    // The client's own retries (3 by default) each time out: bounded, not forever.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('defaults to 10 s', () => {
    expect(loadRegistryConfig({}).requestTimeoutMs).toBe(10_000);
  });
});
