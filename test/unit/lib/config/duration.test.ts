import { durationVariable } from '../../../../lib/config/declare';
import { formatDuration, parseDuration } from '../../../../lib/config/duration';
import { ConfigError } from '../../../../lib/errors';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['15m', 900_000],
    ['72h', 259_200_000],
    ['1d', 86_400_000],
    ['1.5s', 1500],
    ['2 H', 7_200_000],
  ])('%s → %d ms whatever a bare number means', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseDuration(text, 's')).toBe(ms);
  });

  it('reads a bare number in the unit it is given (milliseconds by default)', () => {
    expect(parseDuration('5000')).toBe(5000);
    expect(parseDuration('5000', 'ms')).toBe(5000);
    expect(parseDuration('5', 's')).toBe(5000);
    expect(parseDuration('2', 'h')).toBe(7_200_000);
  });

  it.each(['', 'h', '-1s', '3 weeks', '1y', '10 ms later', '1e3'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0'],
    [250, '250ms'],
    [1500, '1500ms'],
    [30_000, '30s'],
    [90_000, '90s'],
    [120_000, '2m'],
    [3_600_000, '1h'],
    [96 * 3_600_000, '96h'],
  ])('%d ms → %s, which parses back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('a duration variable', () => {
  const inMs = durationVariable('X_TIMEOUT_MS', {
    default: 8000,
    min: 100,
    max: 9500,
    description: '',
    readBy: [],
  });
  const inSeconds = durationVariable('X_AFTER_SECONDS', {
    default: 5,
    min: 1,
    max: 3600,
    unit: 's',
    description: '',
    readBy: [],
  });

  it('keeps what a bare number meant for a *_MS variable and accepts a unit', () => {
    expect(inMs.read({})).toBe(8000);
    expect(inMs.read({ X_TIMEOUT_MS: '4000' })).toBe(4000);
    expect(inMs.read({ X_TIMEOUT_MS: '4s' })).toBe(4000);
    expect(inMs.read({ X_TIMEOUT_MS: '250ms' })).toBe(250);
  });

  it('keeps what a bare number meant for a *_SECONDS variable and answers in seconds', () => {
    expect(inSeconds.read({})).toBe(5);
    expect(inSeconds.read({ X_AFTER_SECONDS: '30' })).toBe(30);
    expect(inSeconds.read({ X_AFTER_SECONDS: '2m' })).toBe(120);
    expect(inSeconds.read({ X_AFTER_SECONDS: '3000ms' })).toBe(3);
  });

  it.each([
    [{ X_TIMEOUT_MS: '10s' }, 'X_TIMEOUT_MS', 'at most 9500ms'],
    [{ X_TIMEOUT_MS: '50' }, 'X_TIMEOUT_MS', 'at least 100ms'],
    [{ X_TIMEOUT_MS: 'soon' }, 'X_TIMEOUT_MS', 'a bare number is in ms'],
    [{ X_AFTER_SECONDS: '1500ms' }, 'X_AFTER_SECONDS', 'whole number of seconds'],
    [{ X_AFTER_SECONDS: '2h' }, 'X_AFTER_SECONDS', 'at most 1h'],
  ])('refuses %j naming %s', (env, variable, says) => {
    const read = () => (variable === 'X_TIMEOUT_MS' ? inMs.read(env) : inSeconds.read(env));
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(new RegExp(`^${variable}: .*${says}`));
  });
});
