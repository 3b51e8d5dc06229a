import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isDestinationName,
  MOCK_WEBHOOK_SECRET,
  mergeSecrets,
  parseSecretsText,
  SecretStore,
} from '../../../ingress/secrets';
import { silentLogger } from '../../../lib/logger';

describe('parseSecretsText', () => {
  it('reads bare secrets as the default destination and destination=secret pairs', () => {
    expect(parseSecretsText('s1, s2,billing=b1\nbilling = b2\n# a comment, with=commas\n\n')).toEqual({
      default: ['s1', 's2'],
      billing: ['b1', 'b2'],
    });
  });

  it('keeps "=" inside a secret after the destination', () => {
    expect(parseSecretsText('default=abc==')).toEqual({ default: ['abc=='] });
  });

  it('reads JSON: a secret or a list per destination', () => {
    expect(parseSecretsText('{"default": ["a", "b"], "billing": "c"}')).toEqual({
      default: ['a', 'b'],
      billing: ['c'],
    });
  });

  it('drops duplicates', () => {
    expect(parseSecretsText('a,a,default=a')).toEqual({ default: ['a'] });
  });

  it.each([
    ['{"default": [1]}', 'non-empty string'],
    ['{"bad name": "x"}', 'not a valid destination name'],
    ['["a"]', 'JSON object'],
    ['{not json', 'not valid JSON'],
    ['bad name=x', 'not a valid destination name'],
    ['billing=', 'empty secret'],
  ])('refuses %s', (text, message) => {
    expect(() => parseSecretsText(text)).toThrow(message);
  });

  it('never repeats a secret in an error', () => {
    expect(() => parseSecretsText('{"default": "s3cr3t", "x": ""}')).toThrow(/^(?!.*s3cr3t)/);
    expect(() => parseSecretsText('{"default": "s3cr3t" oops}')).toThrow(/^(?!.*s3cr3t)/);
  });
});

describe('isDestinationName', () => {
  it.each(['default', 'billing-eu', 'a.b_c', 'X1'])('accepts %s', (n) =>
    expect(isDestinationName(n)).toBe(true),
  );
  it.each(['', '-x', 'a/b', 'a b', 'x'.repeat(65), '%41'])('refuses %s', (n) =>
    expect(isDestinationName(n)).toBe(false),
  );
});

describe('mergeSecrets', () => {
  it('unions per destination', () => {
    expect(mergeSecrets({ default: ['a'] }, { default: ['b', 'a'], x: ['c'] })).toEqual({
      default: ['a', 'b'],
      x: ['c'],
    });
  });
});

describe('SecretStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'secret-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const store = (file: string | undefined, acceptMockSecret = false) =>
    new SecretStore({
      inline: { default: ['inline'] },
      file,
      reloadIntervalMs: 60_000,
      acceptMockSecret,
      logger: silentLogger(),
    });

  it('merges the file with the inline secrets, and re-reads the file on reload', async () => {
    const file = join(dir, 's.json');
    writeFileSync(file, '{"default": ["old"], "billing": "b"}');
    const s = store(file);
    await s.start();
    expect(s.configured('default')).toEqual(['inline', 'old']);
    expect(s.configured('billing')).toEqual(['b']);
    writeFileSync(file, 'default=new');
    await s.reload();
    expect(s.configured('default')).toEqual(['inline', 'new']);
    expect(s.configured('billing')).toEqual([]);
    s.stop();
  });

  it('keeps the previous secrets when the file becomes invalid or disappears', async () => {
    const file = join(dir, 's.txt');
    writeFileSync(file, 'default=good');
    const s = store(file);
    await s.start();
    writeFileSync(file, '{"default": ');
    await s.reload();
    expect(s.configured('default')).toEqual(['inline', 'good']);
    rmSync(file);
    await s.reload();
    expect(s.configured('default')).toEqual(['inline', 'good']);
    s.stop();
  });

  it('starts without the file (the secret may be installed later)', async () => {
    const file = join(dir, 'later.txt');
    const s = store(file);
    await s.start();
    expect(s.configured('billing')).toEqual([]);
    writeFileSync(file, 'billing=x');
    await s.reload();
    expect(s.configured('billing')).toEqual(['x']);
    s.stop();
  });

  it('offers mock-webhook-secret only when enabled', () => {
    expect(store(undefined).candidates('default')).toEqual(['inline']);
    expect(store(undefined, true).candidates('default')).toEqual(['inline', MOCK_WEBHOOK_SECRET]);
    expect(store(undefined, true).candidates('other')).toEqual([MOCK_WEBHOOK_SECRET]);
    expect(store(undefined, true).configured('other')).toEqual([]);
  });
});
