import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../../../lib/logger';
import { partitionStorePath, StoreRegistry } from '../../../../processors/state/registry';
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

describe('partitionStorePath', () => {
  it('is <dir>/<group>/<topic>-<partition>, escaping what a path segment must not hold', () => {
    expect(partitionStorePath('/s', 'nylas-stream-processor', 'nylas-stream.raw', 3)).toBe(
      join('/s', 'nylas-stream-processor', 'nylas-stream.raw-3'),
    );
    expect(partitionStorePath('/s', 'team a/b\\c:d', 'raw', 0)).toBe(
      join('/s', 'team%20a%2fb%5cc%3ad', 'raw-0'),
    );
  });

  it('never leaves the state directory, whatever the group id', () => {
    for (const group of ['..', '.', '../..', '']) {
      const path = partitionStorePath('/s', group, 'raw', 0);
      expect(path.startsWith('/s/')).toBe(true);
      expect(path.split('/')).toHaveLength(4);
    }
    expect(partitionStorePath('/s', '..', 'raw', 0)).toBe(join('/s', '%2e%2e', 'raw-0'));
    expect(partitionStorePath('/s', '', 'raw', 0)).toBe(join('/s', '%', 'raw-0'));
    // A group id that is literally what an escape looks like stays apart from the escaped one.
    expect(partitionStorePath('/s', '%2e', 'raw', 0)).toBe(join('/s', '%252e', 'raw-0'));
  });
});

describe('StoreRegistry', () => {
  it('opens a topic whose name has a dot as a directory (lmdb-js once took `<topic>.raw-1` for a file)', async () => {
    const dir = testStoreDir();
    const { r } = registry(dir, 'nylas.raw');
    const store = await r.get(1);
    await store.apply([{ kind: 'dedupe', id: 'n', expiresAt: 100 }], 1n);
    const path = join(dir, 'nylas-stream-processor', 'nylas.raw-1');
    expect(r.pathOf(1)).toBe(path);
    expect(statSync(path).isDirectory()).toBe(true);
    expect(existsSync(join(path, 'data.mdb'))).toBe(true);
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
    expect(again.seen('kept', 0)).toBe(true);
    expect(again.checkpoint?.offset).toBe(5n);
    expect(other.seen('kept', 0)).toBe(false);

    await r.closeAll();
    await expect(again.apply([])).rejects.toThrow('closed');
    await expect(other.apply([])).rejects.toThrow('closed');
    expect((await r.get(0)).seen('kept', 0)).toBe(true);
  });

  it('removes a damaged store and opens it empty, saying so (the restore rebuilds it)', async () => {
    const dir = testStoreDir();
    const { r, lines } = registry(dir);
    const store = await r.get(2);
    await store.apply([{ kind: 'dedupe', id: 'lost', expiresAt: 100 }], 9n);
    await r.close(2);
    writeFileSync(join(r.pathOf(2), 'data.mdb'), Buffer.alloc(64 * 1024, 'garbage '));

    const rebuilt = await r.get(2);
    expect(rebuilt.checkpoint).toBeUndefined();
    expect(rebuilt.seen('lost', 0)).toBe(false);
    await rebuilt.apply([{ kind: 'dedupe', id: 'new', expiresAt: 100 }], 1n);
    expect(rebuilt.seen('new', 0)).toBe(true);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'error',
        partition: 2,
        path: r.pathOf(2),
        msg: 'state store could not be opened; removing it (it is restored from the changelog)',
      }),
    ]);
  });
});
