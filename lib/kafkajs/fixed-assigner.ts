/**
 * Manual partition assignment for kafkajs, which has none (no `assign()` as the Java consumer has): a
 * consumer in a group of its own whose assigner hands its one member exactly the partitions asked for.
 * The processor's state restore (processors/state/restore.ts) reads the changelog partitions of the
 * input partitions it took over this way.
 */
import { type Assigner, AssignerProtocol, type PartitionAssigner } from 'kafkajs';

const ASSIGNER_NAME = 'NylasStreamStateRestore';

/** An assigner giving the (single) member exactly `partitions` of `topic`. */
export function fixedAssigner(topic: string, partitions: number[]): PartitionAssigner {
  return () => fixedAssignment(topic, partitions);
}

/** What fixedAssigner gives kafkajs: the first member gets `partitions`, any other member nothing. */
export function fixedAssignment(topic: string, partitions: number[]): Assigner {
  return {
    name: ASSIGNER_NAME,
    version: 1,
    async assign({ members }) {
      return members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: i === 0 ? { [topic]: partitions } : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name: ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
      };
    },
  };
}
