import {
  choice,
  durationVariable,
  flag,
  integer,
  listVariable,
  required,
  secret,
  text,
  urlVariable,
} from '../../../../lib/config/declare';
import { configError } from '../../../helpers/config-error';

const about = { description: 'what it does', readBy: ['ingress'] as const };

describe('declared variables', () => {
  it('an integer: default when unset or blank, the value when set, the range enforced by name', () => {
    const v = integer('X_COUNT', { ...about, default: 5, min: 1, max: 10 });
    expect(v.read({})).toBe(5);
    expect(v.read({ X_COUNT: '  ' })).toBe(5);
    expect(v.read({ X_COUNT: '7' })).toBe(7);
    expect(configError(() => v.read({ X_COUNT: '11' })).message).toBe('X_COUNT: must be <= 10, got 11');
    expect(configError(() => v.read({ X_COUNT: '0' })).message).toBe('X_COUNT: must be >= 1, got 0');
    expect(configError(() => v.read({ X_COUNT: '1.5' })).variable).toBe('X_COUNT');
  });

  it('describes itself for the reference: name, kind, default, unit and range, readers', () => {
    const v = integer('X_BYTES', { ...about, default: 2 * 1024 * 1024, min: 1024, unit: 'bytes' });
    expect({ ...v, read: undefined }).toEqual({
      name: 'X_BYTES',
      kind: 'integer',
      description: 'what it does',
      readBy: ['ingress'],
      defaultText: '`2097152` (2 MiB)',
      accepts: 'integer (bytes), ≥ 1024 (1 KiB)',
      read: undefined,
    });
    const d = durationVariable('X_WAIT', { ...about, default: undefined, defaultText: 'half of X', min: 1 });
    expect([d.defaultText, d.accepts]).toEqual(['half of X', 'duration (bare number: ms), ≥ 1ms']);
    expect(d.read({})).toBeUndefined();
    expect(d.read({ X_WAIT: '2s' })).toBe(2000);
  });

  it('text: the check refuses a value with its own reason, the default is returned as declared', () => {
    const v = text('X_NAME', {
      ...about,
      default: 'fallback',
      check: (s) => (s.includes(' ') ? `"${s}" has a space` : undefined),
    });
    expect(v.read({})).toBe('fallback');
    expect(v.read({ X_NAME: ' trimmed ' })).toBe('trimmed');
    expect(configError(() => v.read({ X_NAME: 'a b' })).message).toBe('X_NAME: "a b" has a space');
    expect(text('X_OPTIONAL', { ...about, default: undefined }).read({})).toBeUndefined();
  });

  it('a secret is read but never shown in the reference', () => {
    const v = secret('X_KEY', about);
    expect(v.read({ X_KEY: 'k' })).toBe('k');
    expect(v.read({})).toBeUndefined();
    expect([v.defaultText, v.accepts]).toEqual(['—', 'secret']);
  });

  it('flag, choice, list and url read what they say and refuse by name', () => {
    expect(flag('X_ON', { ...about, default: false }).read({ X_ON: 'yes' })).toBe(true);
    expect(
      configError(() => flag('X_ON', { ...about, default: false }).read({ X_ON: 'maybe' })).variable,
    ).toBe('X_ON');
    const c = choice('X_MODE', { ...about, values: ['fast', 'safe'] as const, default: undefined });
    expect(c.read({})).toBeUndefined();
    expect(c.read({ X_MODE: 'SAFE' })).toBe('safe');
    expect(configError(() => c.read({ X_MODE: 'other' })).message).toBe(
      'X_MODE: expected one of fast, safe, got "other"',
    );
    const l = listVariable('X_HOSTS', {
      ...about,
      default: ['a:1'],
      check: (item) => (item.includes(':') ? undefined : `no port in "${item}"`),
    });
    expect(l.read({})).toEqual(['a:1']);
    expect(l.read({ X_HOSTS: 'b:2, c:3' })).toEqual(['b:2', 'c:3']);
    expect(configError(() => l.read({ X_HOSTS: 'b:2,c' })).message).toBe('X_HOSTS: no port in "c"');
    const u = urlVariable('X_URL', { ...about, default: 'http://localhost/' });
    expect(u.read({})).toBe('http://localhost');
    expect(configError(() => u.read({ X_URL: 'ftp://x' })).variable).toBe('X_URL');
  });

  it('required: the value, or a ConfigError naming the variable with the reason given', () => {
    const v = secret('X_KEY', about);
    expect(required(v, { X_KEY: 'k' }, 'needed')).toBe('k');
    const err = configError(() => required(v, {}, 'required: get one from the dashboard'));
    expect(err.variable).toBe('X_KEY');
    expect(err.message).toBe('X_KEY: required: get one from the dashboard');
  });
});
