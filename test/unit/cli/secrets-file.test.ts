/**
 * The ingress secrets file as `webhooks create/rotate-secret/retire-secrets/delete` edit it: format
 * kept, atomic and private, readable by the ingress's own parser.
 */
import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addSecret,
  destinationForUrl,
  forgetDestination,
  retireOldSecrets,
  secretCount,
  writeSecretsFile,
} from '../../../cli/ops/secrets-file';
import { parseSecretsText } from '../../../ingress/secrets';

describe('secrets file', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    file = join(dir, 'nylas-webhook-secrets.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const parsed = () => parseSecretsText(readFileSync(file, 'utf8'));

  it('creates a private JSON file, adds beside existing secrets, retires all but the newest', async () => {
    expect(await secretCount(file, 'default')).toBe(0);
    expect(await addSecret(file, 'default', 'old-secret')).toBe(1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await addSecret(file, 'billing', 'b1')).toBe(1);
    expect(await addSecret(file, 'default', 'new-secret')).toBe(2);
    expect(await addSecret(file, 'default', 'new-secret')).toBe(2);
    expect(parsed()).toEqual({ default: ['old-secret', 'new-secret'], billing: ['b1'] });
    expect(await retireOldSecrets(file, 'default')).toBe(1);
    expect(parsed()).toEqual({ default: ['new-secret'], billing: ['b1'] });
    expect(await forgetDestination(file, 'billing')).toBe(1);
    expect(parsed()).toEqual({ default: ['new-secret'] });
    // No temp files left behind.
    expect(readdirSync(dir)).toEqual(['nylas-webhook-secrets.json']);
  });

  it('keeps the text format, its comments and other destinations; makes a group-readable file private', async () => {
    writeFileSync(file, '# production secrets\ns-default-1\nbilling=b1, default=s-default-2\n', {
      mode: 0o640,
    });
    await addSecret(file, 'default', 's-default-3');
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(
      '# production secrets\nbilling=b1\ndefault=s-default-1\ndefault=s-default-2\ndefault=s-default-3\n',
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await retireOldSecrets(file, 'default');
    expect(parsed()).toEqual({ billing: ['b1'], default: ['s-default-3'] });
    expect(readFileSync(file, 'utf8')).toContain('# production secrets');
  });

  it('refuses to touch a file the ingress could not read, and refuses bad input', async () => {
    writeFileSync(file, '{"default": [');
    await expect(addSecret(file, 'default', 'x')).rejects.toThrow(/not a valid secrets file/);
    expect(readFileSync(file, 'utf8')).toBe('{"default": [');
    await expect(addSecret(file, 'bad name', 'x')).rejects.toThrow(/not a valid destination name/);
    await expect(addSecret(file, 'default', 'a,b')).rejects.toThrow(/malformed secret/);
  });

  describe('writeSecretsFile', () => {
    const planted = () => join(dir, '.planted.tmp');
    /** The first temp name is one an attacker (or a crash) left behind; later ones are fresh. */
    const names = () => {
      let n = 0;
      return () => (n++ === 0 ? planted() : join(dir, `.fresh-${n}.tmp`));
    };

    it('does not follow a symlink planted at the temp name', async () => {
      const victim = join(dir, 'victim');
      writeFileSync(victim, 'victim content', { mode: 0o644 });
      symlinkSync(victim, planted());
      await writeSecretsFile(file, '{"default": ["K7s"]}\n', names());
      expect(readFileSync(victim, 'utf8')).toBe('victim content');
      expect(statSync(victim).mode & 0o777).toBe(0o644);
      expect(lstatSync(planted()).isSymbolicLink()).toBe(true);
      expect(readFileSync(file, 'utf8')).toBe('{"default": ["K7s"]}\n');
      expect(lstatSync(file).isSymbolicLink()).toBe(false);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir).sort()).toEqual(['.planted.tmp', 'nylas-webhook-secrets.json', 'victim']);
    });

    it('does not reuse or truncate a file that already has the temp name', async () => {
      writeFileSync(planted(), "someone else's", { mode: 0o666 });
      await writeSecretsFile(file, 'default=K7s\n', names());
      expect(readFileSync(planted(), 'utf8')).toBe("someone else's");
      expect(readFileSync(file, 'utf8')).toBe('default=K7s\n');
      expect(statSync(file).mode & 0o777).toBe(0o600);
    });

    it('replaces a world-readable file with a private one, whatever the umask', async () => {
      writeFileSync(file, 'default=old\n', { mode: 0o644 });
      const umask = process.umask(0);
      try {
        await writeSecretsFile(file, 'default=new\n');
      } finally {
        process.umask(umask);
      }
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).toBe('default=new\n');
      expect(readdirSync(dir)).toEqual(['nylas-webhook-secrets.json']);
    });
  });

  it('derives the destination from the webhook URL', () => {
    expect(destinationForUrl('https://hooks.example.com/webhooks/nylas')).toBe('default');
    expect(destinationForUrl('https://hooks.example.com/webhooks/nylas/billing')).toBe('billing');
    expect(destinationForUrl('https://hooks.example.com/webhooks/nylas/billing/')).toBe('billing');
    expect(destinationForUrl('https://hooks.example.com/other')).toBe('default');
    expect(destinationForUrl('not a url')).toBe('default');
  });
});
