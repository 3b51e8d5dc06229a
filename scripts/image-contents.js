#!/usr/bin/env node
// What the Dockerfile's final stage holds, without a Docker engine: it compiles the project with each
// given tsconfig into a temporary folder (the build stage's `dist/`) and counts what the final stage
// copies (dist/, schemas/, bin/, package.json), by top-level folder of dist/. With --node-modules it
// also installs the production dependencies (`npm ci --omit=dev --ignore-scripts`, as the build stage's
// `npm prune --omit=dev` leaves them) from package.json and package-lock.json into a temporary folder
// and counts them; that needs the npm registry. The base image (node:24-bookworm-slim) is not counted.
//
//   node scripts/image-contents.js tsconfig.build.json tsconfig.prod.json   the image before and after
//   node scripts/image-contents.js --node-modules tsconfig.prod.json        plus the production dependencies
'use strict';
const { execFileSync } = require('node:child_process');
const { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, relative, sep } = require('node:path');

const ROOT = join(__dirname, '..');

/** Every file under dir, with its size; symbolic links are not followed. */
function files(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const path = join(e.parentPath, e.name);
      return { path: relative(dir, path), bytes: statSync(path).size };
    });
}

function total(list) {
  return list.reduce((sum, f) => sum + f.bytes, 0);
}

function kib(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function line(label, list) {
  return `  ${label.padEnd(26)} ${String(list.length).padStart(6)} files ${kib(total(list)).padStart(14)}\n`;
}

function contents(tsconfig) {
  const out = mkdtempSync(join(tmpdir(), 'nylas-stream-image-'));
  try {
    execFileSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, tsconfig), '--outDir', join(out, 'dist')],
      { stdio: 'inherit' },
    );
    const dist = files(join(out, 'dist'));
    const byFolder = new Map();
    for (const f of dist) {
      const top = f.path.split(sep)[0];
      byFolder.set(top, [...(byFolder.get(top) ?? []), f]);
    }
    let report = `${tsconfig}: the final stage's /app\n`;
    report += line('dist/', dist);
    for (const [folder, list] of [...byFolder].sort()) report += line(`  dist/${folder}/`, list);
    report += line(
      '  dist/**/*.js.map',
      dist.filter((f) => f.path.endsWith('.map')),
    );
    report += line('schemas/', files(join(ROOT, 'schemas')));
    report += line('bin/', files(join(ROOT, 'bin')));
    report += line('package.json', [
      { path: 'package.json', bytes: statSync(join(ROOT, 'package.json')).size },
    ]);
    return { report, dist };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function nodeModules() {
  const dir = mkdtempSync(join(tmpdir(), 'nylas-stream-prod-deps-'));
  try {
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, f), join(dir, f));
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const list = files(join(dir, 'node_modules'));
    // npm's own .package-lock.json and .bin/ are not packages.
    const packages = new Set(
      list
        .map((f) => f.path.split(sep))
        .filter((parts) => !parts[0].startsWith('.'))
        .map((parts) => (parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0])),
    );
    return `${line('node_modules/', list)}  (${packages.size} top-level packages)\n`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
const tsconfigs = args.filter((a) => a !== '--node-modules');
if (tsconfigs.length === 0) {
  console.error('usage: node scripts/image-contents.js [--node-modules] <tsconfig>…');
  process.exit(2);
}
const runs = tsconfigs.map(contents);
for (const r of runs) process.stdout.write(r.report);
if (runs.length > 1) {
  const [first, last] = [runs[0], runs[runs.length - 1]];
  const gone = first.dist.filter((f) => !last.dist.some((g) => g.path === f.path));
  process.stdout.write(
    `${tsconfigs[0]} → ${tsconfigs[tsconfigs.length - 1]}: dist/ ${kib(total(first.dist))} → ${kib(total(last.dist))}` +
      ` (${kib(total(last.dist) - total(first.dist))}); ${gone.length} files fewer\n`,
  );
}
if (args.includes('--node-modules')) process.stdout.write(nodeModules());
