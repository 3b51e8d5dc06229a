import type { PartitionConsumer } from '../../../../processors/assignment/state';

/** Records the state machine's consumer calls, and which partitions are paused now. */
export class FakeConsumer implements PartitionConsumer {
  readonly calls: string[] = [];
  readonly paused = new Set<number>();

  pause(partitions: number[]): void {
    this.calls.push(`pause ${partitions.join(',')}`);
    for (const p of partitions) this.paused.add(p);
  }

  resume(partitions: number[]): void {
    this.calls.push(`resume ${partitions.join(',')}`);
    for (const p of partitions) this.paused.delete(p);
  }

  seek(partition: number, offset: string): void {
    this.calls.push(`seek ${partition}@${offset}`);
  }
}
