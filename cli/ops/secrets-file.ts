/**
 * Edits the ingress's webhook secrets file (NYLAS_WEBHOOK_SECRETS_FILE, format in ingress/secrets.ts:
 * JSON `{"destination": ["s1", "s2"]}` or text lines `destination=secret`). The ingress re-reads it
 * on a timer and on SIGHUP, so a secret written here is accepted without a restart; several secrets
 * per destination are accepted at once, which is what makes rotation safe.
 *
 * Edits keep the file's format (and, for text, its comments), write atomically (temp file + rename,
 * so the ingress never reads half a file), make the file private (0600, whatever it was before), and
 * are checked with the ingress's own parser before they replace anything. Secrets are never logged or
 * printed.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DEFAULT_DESTINATION, isDestinationName, parseSecretsText } from '../../ingress/secrets';
import { OpsRefusal } from './errors';

/** The destination a webhook URL delivers to: `/webhooks/nylas/<name>` → name, else "default". */
export function destinationForUrl(webhookUrl: string): string {
  let path: string;
  try {
    path = new URL(webhookUrl).pathname;
  } catch {
    return DEFAULT_DESTINATION;
  }
  const m = /\/webhooks\/nylas\/([^/]+)\/?$/.exec(path);
  const name = m?.[1] === undefined ? undefined : decodeURIComponent(m[1]);
  return name !== undefined && isDestinationName(name) ? name : DEFAULT_DESTINATION;
}

type Edit = (secrets: string[]) => string[];

const randomTmpName = (file: string): string =>
  join(dirname(file), `.${basename(file)}.${randomBytes(8).toString('hex')}.tmp`);

/**
 * Replaces `file` with `text`, mode 0600, so that neither a crash nor another user can see or leave
 * anything else: the temp file is created exclusively ('wx': O_CREAT|O_EXCL, which also refuses to
 * follow a symlink planted at that name, so nobody can make us write secrets through it), chmod'ed to
 * 0600 whatever the umask, fsynced, renamed over the target, and the directory fsynced so the rename
 * itself survives a power cut. `tmpName` is a parameter for the tests.
 */
export async function writeSecretsFile(
  file: string,
  text: string,
  tmpName: (file: string) => string = randomTmpName,
): Promise<void> {
  let tmp = tmpName(file);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  for (let attempt = 1; handle === undefined; attempt++) {
    try {
      handle = await open(tmp, 'wx', 0o600);
    } catch (err) {
      // Taken (a leftover, or something planted there): another name, never that one.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err;
      tmp = tmpName(file);
    }
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
    await rename(tmp, file);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function editJson(text: string, destination: string, edit: Edit): string {
  const parsed = JSON.parse(text) as Record<string, string | string[]>;
  const current = parsed[destination];
  const next = edit(current === undefined ? [] : Array.isArray(current) ? current : [current]);
  if (next.length === 0) delete parsed[destination];
  else parsed[destination] = next;
  return `${JSON.stringify(parsed, null, 2)}\n`;
}

/** Text format: entries of other destinations and comments stay where they are; this destination's
 * entries are removed and its new list appended as `destination=secret` lines. */
function editText(text: string, destination: string, edit: Edit): string {
  const current = [...(parseSecretsText(text)[destination] ?? [])];
  const lines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim().startsWith('#')) {
      lines.push(line);
      continue;
    }
    const kept = line
      .split(',')
      .map((e) => e.trim())
      .filter((e) => {
        if (e === '') return false;
        const eq = e.indexOf('=');
        const d = eq === -1 ? DEFAULT_DESTINATION : e.slice(0, eq).trim();
        return d !== destination;
      });
    if (kept.length > 0) lines.push(kept.join(','));
    else if (line.trim() === '') lines.push('');
  }
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (const s of edit(current)) lines.push(`${destination}=${s}`);
  return `${lines.join('\n')}\n`;
}

async function editSecrets(file: string, destination: string, edit: Edit): Promise<string[]> {
  if (!isDestinationName(destination))
    throw new OpsRefusal(`"${destination}" is not a valid destination name`);
  const text = await readText(file);
  let next: string;
  if (text === undefined || text.trim() === '') next = editJson('{}', destination, edit);
  else {
    try {
      parseSecretsText(text);
    } catch (err) {
      throw new OpsRefusal(
        `${file} is not a valid secrets file (${(err as Error).message}); not changing it`,
      );
    }
    next = text.trim().startsWith('{')
      ? editJson(text, destination, edit)
      : editText(text, destination, edit);
  }
  // The ingress must be able to read what we write, or it keeps the old secrets (and logs an error).
  const result = [...(parseSecretsText(next)[destination] ?? [])];
  await writeSecretsFile(file, next);
  return result;
}

/** Adds `secret` for `destination` (kept beside the ones already there). Returns how many it has now. */
export async function addSecret(file: string, destination: string, secret: string): Promise<number> {
  const s = storableSecret(secret);
  return (await editSecrets(file, destination, (list) => (list.includes(s) ? list : [...list, s]))).length;
}

/** The secret as the file stores it; refused when the file's syntax could not carry it. */
export function storableSecret(secret: string): string {
  const s = secret.trim();
  if (s === '' || s.includes(',') || /\s/.test(s))
    throw new OpsRefusal('refusing to store an empty or malformed secret');
  return s;
}

/** Keeps only the newest secret of `destination` (the last one added). Returns how many were removed. */
export async function retireOldSecrets(file: string, destination: string): Promise<number> {
  let removed = 0;
  await editSecrets(file, destination, (list) => {
    removed = Math.max(0, list.length - 1);
    return list.slice(-1);
  });
  return removed;
}

/** Removes every secret of `destination`. Returns how many were removed. */
export async function forgetDestination(file: string, destination: string): Promise<number> {
  let removed = 0;
  await editSecrets(file, destination, (list) => {
    removed = list.length;
    return [];
  });
  return removed;
}

/** The secrets a destination has in the file (none when the file does not exist). */
export async function destinationSecrets(file: string, destination: string): Promise<string[]> {
  const text = await readText(file);
  if (text === undefined || text.trim() === '') return [];
  return [...(parseSecretsText(text)[destination] ?? [])];
}

/** How many secrets a destination has in the file (0 when the file does not exist). */
export async function secretCount(file: string, destination: string): Promise<number> {
  return (await destinationSecrets(file, destination)).length;
}

/** Puts back exactly `secrets` for `destination` (undoing a hold when the rotation failed, or ending it
 * with the old secrets beside the new one). Returns how many it has now. */
export async function restoreSecrets(file: string, destination: string, secrets: string[]): Promise<number> {
  return (await editSecrets(file, destination, () => [...secrets])).length;
}
