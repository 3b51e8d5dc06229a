import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../../../lib/logger';
import { StoreRegistry, stateDatabasePath } from '../../../../processors/state/registry';
import { closeTestStores, TEST_WINDOW_MS, testStoreDir } from '../../../helpers/state-store';

const registries: StoreRegistry[] = [];

function registry(dir: string, topic = 'nylas-stream.raw', groupId = 'nylas-stream-processor') {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    name: 'processor',
    level: 'info',
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  const r = new StoreRegistry({
    dir,
    groupId,
    topic,
    windowMs: TEST_WINDOW_MS,
    cacheEntries: 100,
    filterBytes: 1024 * 1024,
    logger,
    now: () => 0,
  });
  registries.push(r);
  return { r, lines };
}

afterAll(async () => {
  await Promise.all(registries.map((r) => r.closeAll()));
  await closeTestStores();
});

describe('stateDatabasePath', () => {
  it('is <dir>/<group>/<topic>, escaping what a path segment must not hold', () => {
    expect(stateDatabasePath('/s', 'nylas-stream-processor', 'nylas-stream.raw')).toBe(
      join('/s', 'nylas-stream-processor', 'nylas-stream.raw'),
    );
    expect(stateDatabasePath('/s', 'team a/b\\c:d', 'raw')).toBe(join('/s', 'team%20a%2fb%5cc%3ad', 'raw'));
  });

  it('never leaves the state directory, whatever the group id', () => {
    for (const group of ['..', '.', '../..', '']) {
      const path = stateDatabasePath('/s', group, 'raw');
      expect(path.startsWith('/s/')).toBe(true);
      expect(path.split('/')).toHaveLength(4);
    }
    expect(stateDatabasePath('/s', '..', 'raw')).toBe(join('/s', '%2e%2e', 'raw'));
    expect(stateDatabasePath('/s', '', 'raw')).toBe(join('/s', '%', 'raw'));
    // A group id that is literally what an escape looks like stays apart from the escaped one.
    expect(stateDatabasePath('/s', '%2e', 'raw')).toBe(join('/s', '%252e', 'raw'));
  });
});

describe('StoreRegistry', () => {
  it('keeps every partition in one database under <dir>/<group>/<topic>', async () => {
    const dir = testStoreDir();
    const { r } = registry(dir, 'nylas.raw');
    await (await r.get(1)).apply([{ kind: 'dedupe', id: 'n', expiresAt: 100 }], 1n);
    await (await r.get(2)).apply([{ kind: 'dedupe', id: 'm', expiresAt: 100 }], 1n);
    const path = join(dir, 'nylas-stream-processor', 'nylas.raw');
    expect(r.path).toBe(path);
    expect(existsSync(join(path, 'CURRENT'))).toBe(true);
    expect(r.diskBytes()).toBeGreaterThan(0);
  });

  it('gives the same store until it is closed; after close the same data, reopened', async () => {
    const { r } = registry(testStoreDir());
    const [a, b] = await Promise.all([r.get(0), r.get(0)]);
    expect(a).toBe(b);
    expect(await r.get(0)).toBe(a);
    const other = await r.get(1);
    expect(other).not.toBe(a);
    await a.apply([{ kind: 'dedupe', id: 'kept', expiresAt: 100 }], 5n);

    // Given back while its close is still in progress: it reopens with what was written.
    const closing = r.close(0);
    const again = await r.get(0);
    await closing;
    expect(again).not.toBe(a);
    await expect(a.apply([])).rejects.toThrow('closed');
    expect(await again.isSeen('kept', 0)).toBe(true);
    expect(again.checkpoint?.offset).toBe(5n);
    // Partitions share the database, not their entries.
    expect(await other.isSeen('kept', 0)).toBe(false);

    await r.closeAll();
    await expect(again.apply([])).rejects.toThrow('closed');
    await expect(other.apply([])).rejects.toThrow('closed');
    expect(await (await r.get(0)).isSeen('kept', 0)).toBe(true);
  });

  it('removes a damaged database and opens it empty, saying so (the restore rebuilds it)', async () => {
    const dir = testStoreDir();
    const { r, lines } = registry(dir);
    const store = await r.get(2);
    await store.apply([{ kind: 'dedupe', id: 'lost', expiresAt: 100 }], 9n);
    await r.closeAll();
    writeFileSync(join(r.path, 'CURRENT'), 'garbage\n');

    const rebuilt = await r.get(2);
    expect(rebuilt.checkpoint).toBeUndefined();
    expect(await rebuilt.isSeen('lost', 0)).toBe(false);
    await rebuilt.apply([{ kind: 'dedupe', id: 'new', expiresAt: 100 }], 1n);
    expect(await rebuilt.isSeen('new', 0)).toBe(true);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        path: r.path,
        msg: 'state database could not be opened; removing it (restored from the changelog)',
      }),
    ]);
  });

  it('refuses a database another processor has open, naming the variable, and removes nothing', async () => {
    const dir = testStoreDir();
    const { r: first } = registry(dir);
    await (await first.get(0)).apply([{ kind: 'dedupe', id: 'mine', expiresAt: 100 }], 3n);
    const { r: second, lines } = registry(dir);
    await expect(second.get(0)).rejects.toThrow(/PROCESSOR_STATE_DIR: .* is in use by another processor/);
    expect(lines).toEqual([]);
    expect(await (await first.get(0)).isSeen('mine', 0)).toBe(true);
  });
});
