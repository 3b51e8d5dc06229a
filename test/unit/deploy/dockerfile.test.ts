/**
 * The image starts every role as `nylas-stream up` and the benchmarks start their services
 * (lib/service-runtime.ts): the same Node flags before the CLI, the same glibc settings. Docker cannot
 * run here, so the Dockerfile is read; what the settings do to memory is measured by the state
 * benchmark (docs/benchmarks.md), not here.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_ENV_DEFAULTS, SERVICE_NODE_FLAGS, serviceNodeFlags } from '../../../lib/service-runtime';

const dockerfile = readFileSync(join(__dirname, '../../../Dockerfile'), 'utf8');

/** The instructions of the final stage (after the last FROM), one per line, comments dropped. */
function finalStage(): string[] {
  const lines = dockerfile.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
  const from = lines.map((l) => l.startsWith('FROM ')).lastIndexOf(true);
  return lines.slice(from);
}

/** `ENV A=1 B=2` lines of the final stage, merged. */
function env(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of finalStage().filter((l) => l.startsWith('ENV '))) {
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      out[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return out;
}

describe('Dockerfile', () => {
  it('starts node with the services’ flags, before the CLI', () => {
    const line = finalStage().find((l) => l.startsWith('ENTRYPOINT '));
    expect(JSON.parse(line?.slice('ENTRYPOINT '.length) ?? '[]')).toEqual([
      'node',
      ...SERVICE_NODE_FLAGS,
      'dist/cli/index.js',
    ]);
  });

  it('sets the services’ glibc settings', () => {
    expect(env()).toMatchObject(SERVICE_ENV_DEFAULTS);
  });

  it('names flags this Node accepts (an unknown one stops node at start-up)', () => {
    const child = spawnSync(process.execPath, [...SERVICE_NODE_FLAGS, '-e', '0'], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
  });

  it('keeps the young generation at two 16 MiB semi-spaces where it would grow (Node 24: 128 MiB)', () => {
    // Three million live objects make V8 grow the new space to its limit before they are promoted.
    const script = [
      "const v8 = require('node:v8');",
      'const a = []; for (let i = 0; i < 3e6; i++) a.push({ i });',
      "process.stdout.write(String(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size));",
    ].join('\n');
    const child = spawnSync(process.execPath, [...SERVICE_NODE_FLAGS, '-e', script], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    expect(Number(child.stdout)).toBeLessThanOrEqual(32 * 1024 * 1024);
  });
});

describe('the processor where nylas-stream starts it (up, the benchmarks)', () => {
  it('adds its heap limit to the image’s flags, and no other role gets it', () => {
    expect(serviceNodeFlags('processor')).toEqual([...SERVICE_NODE_FLAGS, '--max-old-space-size=256']);
    expect(serviceNodeFlags('ingress')).toEqual(SERVICE_NODE_FLAGS);
  });

  it('runs with V8’s heap limit at 256 MB plus the young generation', () => {
    const script = "process.stdout.write(String(require('node:v8').getHeapStatistics().heap_size_limit));";
    const child = spawnSync(process.execPath, [...serviceNodeFlags('processor'), '-e', script], {
      encoding: 'utf8',
    });
    expect(child.status).toBe(0);
    // 256 MiB of old generation and three 16 MiB semi-spaces.
    expect(Number(child.stdout) / 2 ** 20).toBe(304);
  });
});
