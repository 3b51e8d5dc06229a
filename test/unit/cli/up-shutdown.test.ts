/**
 * `npm start | tee up.log`, then Ctrl-C: tee dies of the same SIGINT, so `up`'s goodbye line meets a
 * closed pipe (EPIPE). `up` must still stop what it started, above all the detached Kafka and registry.
 * Real processes: the child runs cli/stdio.ts and cli/up/shutdown.ts as up.ts does (with stand-ins for
 * the services and the JVMs, see test/helpers/up-shutdown-child.js), its stdout piped into a real `tee`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runShutdown } from '../../../cli/up/shutdown';

const CHILD = join(__dirname, '..', '..', 'helpers', 'up-shutdown-child.js');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const exitOf = (p: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) resolve({ code: p.exitCode, signal: p.signalCode });
    else p.once('exit', (code, signal) => resolve({ code, signal }));
  });

describe('up shutdown with its stdout gone', () => {
  let dir: string;
  const started: number[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'up-epipe-'));
  });
  afterEach(() => {
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('Ctrl-C after tee died: the goodbye hits EPIPE, and the services and the detached infrastructure are stopped', async () => {
    const log = join(dir, 'up.log');
    const tee = spawn('tee', [log], { stdio: ['pipe', 'ignore', 'inherit'] });
    const up = spawn(process.execPath, [CHILD, dir], { stdio: ['ignore', tee.stdin ?? 'ignore', 'pipe'] });
    tee.stdin?.destroy(); // only `up` writes into the pipe now
    for (const p of [tee, up]) if (p.pid !== undefined) started.push(p.pid);
    let stderr = '';
    up.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const upExit = exitOf(up);

    await until('the stand-ins', () => stderr.includes('\n'));
    const pids = JSON.parse(stderr.split('\n')[0] as string) as Record<
      'service' | 'registry' | 'kafka',
      number
    >;
    started.push(...Object.values(pids));
    await until('tee to write the first line', () => {
      try {
        return readFileSync(log, 'utf8').includes('nylas-stream is up');
      } catch {
        return false;
      }
    });

    // The terminal's Ctrl-C reaches tee first (or at once); the reader of up's stdout is gone.
    tee.kill('SIGINT');
    await exitOf(tee);
    up.kill('SIGINT');

    const exit = await upExit;
    for (const [name, pid] of Object.entries(pids))
      await until(`the ${name} stand-in to be gone`, () => !alive(pid));
    expect(exit).toEqual({ code: 0, signal: null });
    // The goodbye met the closed pipe (EPIPE), and the shutdown went on to its end.
    expect(stderr).toMatch(/stdout closed\n(.*\n)*shutdown complete\n$/);
    expect(readFileSync(log, 'utf8')).not.toContain('stopping');
  });

  it('runs every step even when one fails or printing throws', async () => {
    const ran: string[] = [];
    await runShutdown(
      [
        { name: 'a', say: 'stopping a', run: async () => void ran.push('a') },
        {
          name: 'b',
          run: async () => {
            ran.push('b');
            throw new Error('b failed');
          },
        },
        { name: 'c', say: 'stopping c', run: async () => void ran.push('c') },
      ],
      () => {
        throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      },
    );
    expect(ran).toEqual(['a', 'b', 'c']);
  });
});
