/**
 * The production build (tsconfig.prod.json, what the Dockerfile compiles): built into a temporary folder
 * laid out as the image's /app (dist, schemas, package.json, node_modules), with no simulator/ and no
 * deploy/ anywhere in it. The compiler follows every import, so an import of the simulator or the local
 * runtime from a production module would put them into this output; the commands then run from it as
 * separate processes, as they do in the image.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { NOT_IN_THIS_BUILD, NOT_IN_THIS_BUILD_EXIT_CODE } from '../../../cli/development-commands';

const ROOT = join(__dirname, '..', '..', '..');
const PRODUCTION_COMMANDS = [
  'ingress',
  'processor',
  'topics',
  'tail',
  'replay',
  'redrive',
  'webhooks',
  'schemas',
] as const;
const DEVELOPMENT_ONLY = /^(simulator|deploy)\/|^cli\/up\/|^cli\/commands\/(infra|simulate)\.js/;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe('the production build', () => {
  const app = mkdtempSync(join(tmpdir(), 'nylas-stream-image-'));
  const dist = join(app, 'dist');
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(dist, 'cli', 'index.js'), ...args], {
      cwd: app,
      env: { ...process.env, NODE_ENV: 'production' },
      encoding: 'utf8',
    });

  beforeAll(() => {
    const tsc = spawnSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.prod.json'), '--outDir', dist],
      { encoding: 'utf8' },
    );
    if (tsc.status !== 0) throw new Error(`tsc -p tsconfig.prod.json failed:\n${tsc.stdout}${tsc.stderr}`);
    copyFileSync(join(ROOT, 'package.json'), join(app, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
    symlinkSync(join(ROOT, 'schemas'), join(app, 'schemas'));
  }, 180_000);
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  it('holds the production modules and nothing of the simulator, the local runtime or their commands', () => {
    const files = filesUnder(dist);
    for (const entry of ['cli/index.js', 'ingress/index.js', 'processors/index.js', 'schemas/index.js'])
      expect([entry, files.includes(entry)]).toEqual([entry, true]);
    expect(files.filter((f) => DEVELOPMENT_ONLY.test(f))).toEqual([]);
  });

  it('resolves every relative require of its modules inside itself', () => {
    const unresolved: string[] = [];
    for (const file of filesUnder(dist).filter((f) => f.endsWith('.js'))) {
      const source = readFileSync(join(dist, file), 'utf8');
      // Both quotes: the compiler writes imports with double ones, a require() call keeps its own.
      for (const [, , spec] of source.matchAll(/require\((["'])(\.[^"']*)\1\)/g)) {
        if (spec === undefined) continue;
        const target = resolve(dirname(join(dist, file)), spec);
        if (![target, `${target}.js`, join(target, 'index.js')].some((t) => existsSync(t)))
          unresolved.push(`${file}: ${spec}`);
      }
    }
    expect(unresolved).toEqual([]);
  });

  it('runs --help and each production command', () => {
    const help = cli('--help');
    expect([help.status, help.stderr]).toEqual([0, '']);
    for (const name of PRODUCTION_COMMANDS) expect(help.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    expect(help.stdout).not.toMatch(/^ {2}(up|stop|infra|simulate)\b/m);
    for (const name of PRODUCTION_COMMANDS) {
      const r = cli(name, '--help');
      expect([name, r.status, r.stderr]).toEqual([name, 0, '']);
      expect(r.stdout).toContain(`Usage: nylas-stream ${name}`);
    }
  }, 180_000);

  it('answers the development commands with where they are', () => {
    for (const args of [['up', '--demo'], ['stop'], ['infra', 'status'], ['simulate', 'send']]) {
      const r = cli(...args);
      expect([args, r.status, r.stderr.trim()]).toEqual([
        args,
        NOT_IN_THIS_BUILD_EXIT_CODE,
        `nylas-stream ${args[0]}: ${NOT_IN_THIS_BUILD}`,
      ]);
    }
  }, 180_000);
});
