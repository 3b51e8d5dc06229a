/**
 * The remembering partitioner picks exactly the partition kafkajs's DefaultPartitioner picks (the
 * ingress and the processor rely on it for co-partitioning by grant).
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { KeyHashPartitioner } from '../../../../lib/kafkajs/partitioner';

function metadata(n: number): PartitionMetadata[] {
  return Array.from({ length: n }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));
}

describe('KeyHashPartitioner', () => {
  it("agrees with kafkajs's DefaultPartitioner for string keys over partition counts", () => {
    const ours = KeyHashPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const keys = [
      '',
      'a',
      'grant-1',
      'ä-grant-ü',
      '🙂',
      ...Array.from({ length: 2000 }, (_, i) => `${(i * 2654435761).toString(36)}-${i}`),
    ];
    let checked = 0;
    for (const n of [1, 2, 3, 7, 12, 24, 100]) {
      const partitionMetadata = metadata(n);
      // Twice: the second pass is answered from the remembered hashes.
      for (let pass = 0; pass < 2; pass++) {
        for (const key of keys) {
          const args = { topic: 't', partitionMetadata, message: { key, value: 'v' } };
          expect(ours(args)).toBe(theirs(args));
          checked++;
        }
      }
    }
    expect(checked).toBe(7 * 2 * keys.length);
  });

  it('leaves explicit partitions, missing keys and Buffer keys to kafkajs', () => {
    const ours = KeyHashPartitioner();
    const partitionMetadata = metadata(12);
    expect(ours({ topic: 't', partitionMetadata, message: { key: 'k', value: 'v', partition: 5 } })).toBe(5);
    const theirs = Partitioners.DefaultPartitioner();
    const buffer = { topic: 't', partitionMetadata, message: { key: Buffer.from('grant-9'), value: 'v' } };
    expect(ours(buffer)).toBe(theirs(buffer));
    const keyless = ours({ topic: 't', partitionMetadata, message: { value: 'v' } });
    expect(keyless).toBeGreaterThanOrEqual(0);
    expect(keyless).toBeLessThan(12);
  });
});
