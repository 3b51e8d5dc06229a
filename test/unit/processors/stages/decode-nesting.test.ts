/**
 * decode's nesting check (processors/stages/decode.ts nestsDeeperThan) skips strings with indexOf; it
 * must answer exactly as the plain byte walk it replaced, on any bytes (valid JSON or not).
 */
import fc from 'fast-check';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../../../processors/stages/decode';

/** The byte walk nestsDeeperThan replaced (the reference). */
function byteWalk(bytes: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** Bytes made mostly of the characters that matter (quotes, backslashes, brackets), plus others. */
const jsonish = fc
  .array(fc.constantFrom('"', '\\', '{', '}', '[', ']', 'a', ' ', ':', ',', 'é', '0'), { maxLength: 200 })
  .map((chars) => Buffer.from(chars.join(''), 'utf8'));

describe('nestsDeeperThan', () => {
  it('answers as the byte walk on arbitrary bytes, at any depth limit', () => {
    fc.assert(
      fc.property(jsonish, fc.integer({ min: 0, max: 8 }), (bytes, max) => {
        expect(nestsDeeperThan(bytes, max)).toBe(byteWalk(bytes, max));
      }),
      { numRuns: 3000 },
    );
  });

  it('answers as the byte walk on JSON values (strings with escapes and brackets inside)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 0, max: 7 }), (value, max) => {
        const bytes = Buffer.from(JSON.stringify(value), 'utf8');
        expect(nestsDeeperThan(bytes, max)).toBe(byteWalk(bytes, max));
      }),
      { numRuns: 1000 },
    );
  });

  it('escaped quotes and backslash runs before a quote', () => {
    const cases = [
      '{"a":"\\"{{{{"}',
      '{"a":"\\\\"}{{{{',
      '{"a":"\\\\\\"{{{{"}',
      '["\\\\\\\\",[[[[]]]]]',
      '"unterminated {{{{',
      '"\\',
    ];
    for (const text of cases) {
      const bytes = Buffer.from(text, 'utf8');
      for (let max = 0; max < 6; max++) expect(nestsDeeperThan(bytes, max)).toBe(byteWalk(bytes, max));
    }
  });

  it('refuses a body nested past MAX_JSON_DEPTH and accepts one at it', () => {
    const nested = (levels: number) =>
      Buffer.from(`${'{"a":'.repeat(levels)}"x\\"}"${'}'.repeat(levels)}`, 'utf8');
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
  });
});
