/** The restore's manual assignment: exactly the asked partitions, to one member, in kafkajs's encoding. */
import { AssignerProtocol } from 'kafkajs';
import { fixedAssignment } from '../../../../lib/kafkajs/fixed-assigner';

describe('fixedAssignment', () => {
  it('gives the first member exactly the partitions asked for and any other member none', async () => {
    const assigner = fixedAssignment('state', [4, 1]);
    const member = (memberId: string) => ({ memberId, memberMetadata: Buffer.alloc(0) });
    const assigned = await assigner.assign({ members: [member('a'), member('b')], topics: ['state'] });
    expect(
      assigned.map((a) => [
        a.memberId,
        AssignerProtocol.MemberAssignment.decode(a.memberAssignment)?.assignment,
      ]),
    ).toEqual([
      ['a', { state: [4, 1] }],
      ['b', {}],
    ]);
  });

  it('subscribes under its own protocol name with the topics it is given', () => {
    const assigner = fixedAssignment('state', [0]);
    const { name, metadata } = assigner.protocol({ topics: ['state'] });
    expect(name).toBe(assigner.name);
    expect(AssignerProtocol.MemberMetadata.decode(metadata)?.topics).toEqual(['state']);
  });
});
