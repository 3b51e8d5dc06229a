/**
 * The coordinator-lookup cache's own rules, on kafkajs's real Cluster prototype with the lookup itself
 * replaced (jest gives this file its own copy of the modules). The effect against a real broker is in
 * test/integration/lib/kafkajs/coordinator-cache.test.ts.
 */
interface Proto {
  findGroupCoordinatorMetadata(
    this: object,
    p: { groupId: string; coordinatorType?: number },
  ): Promise<unknown>;
}

const Cluster = require('kafkajs/src/cluster') as { prototype: Proto };
const calls: Array<{ cluster: object; groupId: string; type: number | undefined }> = [];
let fail = false;
Cluster.prototype.findGroupCoordinatorMetadata = async function (this: object, p) {
  calls.push({ cluster: this, groupId: p.groupId, type: p.coordinatorType });
  if (fail) throw new Error('GROUP_COORDINATOR_NOT_AVAILABLE');
  return { coordinator: { nodeId: calls.length } };
};

import { COORDINATOR_CACHE_MS, installCoordinatorCache } from '../../../../lib/kafkajs/coordinator-cache';

let clock = 1_000_000;
const installed = installCoordinatorCache({ now: () => clock });
const lookup = (cluster: object, groupId: string, coordinatorType = 1) =>
  Cluster.prototype.findGroupCoordinatorMetadata.call(cluster, { groupId, coordinatorType });

beforeEach(() => {
  calls.length = 0;
  fail = false;
  clock += 10 * COORDINATOR_CACHE_MS;
});

describe('kafkajs coordinator cache', () => {
  it('is installed on the kafkajs version package.json pins', () => {
    expect(installed).toEqual({ name: 'coordinator-cache', active: true });
    expect(installCoordinatorCache()).toEqual({ name: 'coordinator-cache', active: true });
  });

  it('answers repeated lookups of one client from one request until it expires', async () => {
    const a = {};
    const first = await lookup(a, 'tx-1');
    clock += COORDINATOR_CACHE_MS - 1;
    expect(await lookup(a, 'tx-1')).toBe(first);
    expect(calls).toHaveLength(1);
    clock += 1;
    expect(await lookup(a, 'tx-1')).not.toBe(first);
    expect(calls).toHaveLength(2);
  });

  it('keeps clients, ids and coordinator types apart', async () => {
    const a = {};
    const b = {};
    await lookup(a, 'tx-1', 1);
    await lookup(b, 'tx-1', 1);
    await lookup(a, 'tx-2', 1);
    await lookup(a, 'tx-1', 0);
    expect(calls).toHaveLength(4);
  });

  it("caches a producer's group lookups (its TxnOffsetCommit) but never a consumer's", async () => {
    const producer = {};
    await lookup(producer, 'group', 0);
    await lookup(producer, 'group', 0);
    expect(calls).toHaveLength(1);
    const consumer = { isolationLevel: 1 };
    await lookup(consumer, 'group', 0);
    await lookup(consumer, 'group', 0);
    const readUncommitted = { isolationLevel: 0 };
    await lookup(readUncommitted, 'group', 0);
    expect(calls).toHaveLength(4);
  });

  it('does not keep a failed lookup', async () => {
    const a = {};
    fail = true;
    await expect(lookup(a, 'g')).rejects.toThrow('GROUP_COORDINATOR_NOT_AVAILABLE');
    fail = false;
    await expect(lookup(a, 'g')).resolves.toEqual({ coordinator: { nodeId: 2 } });
    expect(calls).toHaveLength(2);
  });
});
