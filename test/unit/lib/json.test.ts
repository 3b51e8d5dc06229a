/**
 * The lenient JSON readers (lib/json.ts): each turns a value of the right shape into its typed form and
 * anything else into null, never an exception, whatever the payload holds.
 */
import {
  bool,
  dateTextToMs,
  enumOf,
  isObj,
  json,
  long,
  metadata,
  nonEmptyText,
  obj,
  objArray,
  secondsToMs,
  str,
  strArray,
} from '../../../lib/json';

/** Values of every JSON type and then some, each of which a reader must survive. */
const ODD: unknown[] = [undefined, null, true, 0, -1.5, Number.NaN, Infinity, '', 'x', [], [1], {}, { a: 1 }];

describe('isObj and obj', () => {
  it('accept plain objects only: not arrays, not null, not primitives', () => {
    expect(ODD.filter(isObj)).toEqual([{}, { a: 1 }]);
    const o = { a: 1 };
    expect(obj(o)).toBe(o);
    expect(obj([1])).toBeNull();
    expect(obj(null)).toBeNull();
    expect(obj('{}')).toBeNull();
  });
});

describe('str', () => {
  it('keeps strings, writes finite numbers as text (ids that arrive as numbers), drops the rest', () => {
    expect(str('abc')).toBe('abc');
    expect(str('')).toBe('');
    expect(str(42)).toBe('42');
    expect(str(1.5)).toBe('1.5');
    expect([Number.NaN, Infinity, true, null, undefined, {}, ['a']].map(str)).toEqual(Array(7).fill(null));
  });
});

describe('nonEmptyText', () => {
  it('keeps a string with characters and refuses the empty string and every other type', () => {
    expect(nonEmptyText('grant-1')).toBe('grant-1');
    expect(nonEmptyText(' ')).toBe(' ');
    for (const v of ['', 7, null, undefined, {}, ['x']]) expect(nonEmptyText(v)).toBeUndefined();
  });
});

describe('bool', () => {
  it('keeps booleans only; "true" and 1 are not booleans', () => {
    expect(bool(true)).toBe(true);
    expect(bool(false)).toBe(false);
    expect([1, 0, 'true', null, undefined].map(bool)).toEqual(Array(5).fill(null));
  });
});

describe('long', () => {
  it('truncates numbers and numeric strings (trimmed) to safe integers', () => {
    expect(long(7)).toBe(7);
    expect(long(7.9)).toBe(7);
    expect(long(-7.9)).toBe(-7);
    expect(long('0')).toBe(0);
    expect(long(' 12 ')).toBe(12);
    expect(long('-3.5')).toBe(-3);
  });

  it('is null for non-numeric text, non-finite and unsafe values', () => {
    expect(
      ['1e3', '0x10', 'abc', '', Number.NaN, Infinity, 2 ** 53, 1e300, true, null, undefined, [3]].map(long),
    ).toEqual(Array(12).fill(null));
  });
});

describe('secondsToMs', () => {
  it('reads Unix seconds as numbers or text (trimmed) and rounds to whole milliseconds', () => {
    expect(secondsToMs(1723821985)).toBe(1723821985000);
    expect(secondsToMs('1723821985')).toBe(1723821985000);
    expect(secondsToMs(' 1.0005 ')).toBe(1001);
    expect(secondsToMs(0)).toBe(0);
  });

  it('is null for negative, non-numeric, non-finite or unsafe times', () => {
    expect([-1, '-1', 'soon', '', Number.NaN, Infinity, 1e300, null, undefined, {}].map(secondsToMs)).toEqual(
      Array(10).fill(null),
    );
  });
});

describe('dateTextToMs', () => {
  it('parses RFC 2822 and ISO texts, null for anything else', () => {
    expect(dateTextToMs('Tue, 20 Aug 2024 10:00:00 +0000')).toBe(Date.UTC(2024, 7, 20, 10));
    expect(dateTextToMs('2024-08-20T10:00:00Z')).toBe(Date.UTC(2024, 7, 20, 10));
    expect([1723821985, 'not a date', '', null].map(dateTextToMs)).toEqual([null, null, null, null]);
  });
});

describe('strArray and objArray', () => {
  it('strArray keeps the string-like entries of an array; not an array is null', () => {
    expect(strArray(['a', 2, null, { id: 'x' }, true, 'b'])).toEqual(['a', '2', 'b']);
    expect(strArray([])).toEqual([]);
    expect(strArray('a')).toBeNull();
    expect(strArray({ 0: 'a' })).toBeNull();
  });

  it('objArray maps the object entries and drops the others and those the map rejects', () => {
    const ids = objArray([{ id: 1 }, 'x', null, [{ id: 2 }], { id: null }, { id: 'b' }], (o) => str(o.id));
    expect(ids).toEqual(['1', 'b']);
    expect(objArray([{ a: 1 }, ['x'], 'y', 3], (o) => o)).toEqual([{ a: 1 }]);
    expect(objArray(null, () => 1)).toBeNull();
    expect(objArray({ id: 1 }, () => 1)).toBeNull();
  });
});

describe('json', () => {
  it('is JSON text for any present value, null when absent', () => {
    expect(json({ a: [1, 'b'] })).toBe('{"a":[1,"b"]}');
    expect(json(false)).toBe('false');
    expect(json(0)).toBe('0');
    expect(json('')).toBe('""');
    expect(json(null)).toBeNull();
    expect(json(undefined)).toBeNull();
  });
});

describe('metadata', () => {
  it('keeps string values, writes the others as JSON text and leaves out null ones', () => {
    expect(metadata({ a: 'x', n: 3, nested: { k: [1] }, f: false, gone: null, missing: undefined })).toEqual({
      a: 'x',
      n: '3',
      nested: '{"k":[1]}',
      f: 'false',
    });
    expect(metadata({})).toEqual({});
    expect(metadata([['a', 'x']])).toBeNull();
    expect(metadata('a=x')).toBeNull();
  });
});

describe('enumOf', () => {
  const SYMBOLS = ['CONFIRMED', 'NO_REPLY'] as const;

  it('upper-cases and joins words with underscores before matching', () => {
    expect(enumOf('confirmed', SYMBOLS)).toBe('CONFIRMED');
    expect(enumOf('no-reply', SYMBOLS)).toBe('NO_REPLY');
    expect(enumOf('No  Reply', SYMBOLS)).toBe('NO_REPLY');
  });

  it('is UNKNOWN for a text that is no symbol, null when absent, empty or not text', () => {
    expect(enumOf('maybe', SYMBOLS)).toBe('UNKNOWN');
    expect(enumOf('NOREPLY', SYMBOLS)).toBe('UNKNOWN');
    expect([undefined, null, '', 1, true].map((v) => enumOf(v, SYMBOLS))).toEqual(Array(5).fill(null));
  });
});

describe('no reader throws', () => {
  it('on any value of any JSON type', () => {
    const readers = [
      isObj,
      obj,
      nonEmptyText,
      str,
      bool,
      long,
      secondsToMs,
      dateTextToMs,
      strArray,
      json,
      metadata,
    ];
    for (const read of readers) for (const v of ODD) expect(() => read(v)).not.toThrow();
    for (const v of ODD) {
      expect(() => objArray(v, () => 1)).not.toThrow();
      expect(() => enumOf(v, ['A'])).not.toThrow();
    }
  });
});
