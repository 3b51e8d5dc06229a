import { createHash } from 'node:crypto';
import { stateKeyHash } from '../../../../processors/state/keys';

describe('stateKeyHash', () => {
  // The key is part of the on-disk layout: a store written by an earlier build is read by this one, so
  // the hash must stay the first 128 bits of SHA-256 over the id's UTF-8 bytes, byte for byte.
  it.each([
    ['an ascii notification id', 'b6f1c2d3-0f5e-4c4e-9d8a-0e2b1f7a9c11'],
    ['an object key with NUL separators', 'grant-1\u0000message\u0000AAkALgAAAAAAHYQDEapmEc2byACqAC'],
    ['non-ASCII and astral characters', 'grant-é\u0000event\u0000日本語-🙂'],
    ['an empty string', ''],
  ])('is the first 16 bytes of SHA-256 of the UTF-8 bytes, one latin1 character per byte: %s', (_, id) => {
    const key = stateKeyHash(id);
    expect(key).toHaveLength(16);
    expect(Buffer.from(key, 'latin1')).toEqual(
      createHash('sha256').update(id, 'utf8').digest().subarray(0, 16),
    );
  });
});
