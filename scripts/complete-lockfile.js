#!/usr/bin/env node
// Keeps package-lock.json installable with `npm ci` on every platform.
//
// Why: the package mirror our machines use serves only some platform builds of packages such as
// @biomejs/cli-* and @unrs/resolver-binding-* (macOS, Windows and musl builds answer 404). `npm install`
// then writes a lock without those optional packages, and npm 11's `npm ci` refuses such a lock
// ("Missing: @biomejs/cli-darwin-x64@ from lock file") on any machine, ours included.
// This adds the missing entries the way the public registry's lock would have them (version, optional,
// os/cpu/libc), so npm skips them on other platforms and fetches them by version where they apply.
//
//   node scripts/complete-lockfile.js          add missing entries (run after `npm install`)
//   node scripts/complete-lockfile.js --check  exit 1 and name them if any are missing (part of `npm run lint`)
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const file = join(__dirname, '..', 'package-lock.json');
const OSES = [
  'android',
  'darwin',
  'linux',
  'win32',
  'freebsd',
  'openharmony',
  'sunos',
  'aix',
  'netbsd',
  'openbsd',
];
const CPUS = ['arm64', 'x64', 'arm', 'ia32', 'loong64', 'ppc64', 'riscv64', 's390x', 'mips64el'];

/** os/cpu/libc from a platform package's name, e.g. cli-linux-x64-musl, resolver-binding-win32-ia32-msvc. */
function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OSES.includes(p));
  const cpu = parts.find((p) => CPUS.includes(p));
  if (!os || !cpu) return undefined;
  const libc =
    os === 'linux' ? (parts.includes('musl') || parts.includes('musleabihf') ? 'musl' : 'glibc') : undefined;
  return { os, cpu, libc };
}

function missingEntries(lock) {
  const found = [];
  for (const [path, pkg] of Object.entries(lock.packages)) {
    for (const [name, version] of Object.entries(pkg.optionalDependencies ?? {})) {
      const nested = `${path ? `${path}/` : ''}node_modules/${name}`;
      if (lock.packages[nested] || lock.packages[`node_modules/${name}`]) continue;
      found.push({ parent: path, name, version, dev: pkg.dev === true });
    }
  }
  return found;
}

const lock = JSON.parse(readFileSync(file, 'utf8'));
const missing = missingEntries(lock);
if (process.argv.includes('--check')) {
  if (missing.length > 0) {
    process.stderr.write(
      `package-lock.json lacks ${missing.length} optional platform package(s), so \`npm ci\` would refuse it:\n` +
        missing.map((m) => `  ${m.name}@${m.version} (optional dependency of ${m.parent})`).join('\n') +
        '\nRun: node scripts/complete-lockfile.js\n',
    );
    process.exit(1);
  }
  process.exit(0);
}
const unknown = [];
for (const m of missing) {
  const platform = platformOf(m.name);
  if (!platform) {
    unknown.push(m.name);
    continue;
  }
  const entry = { version: m.version };
  if (m.dev) entry.dev = true;
  entry.optional = true;
  entry.cpu = [platform.cpu];
  if (platform.libc) entry.libc = [platform.libc];
  entry.os = [platform.os];
  lock.packages[`node_modules/${m.name}`] = entry;
}
if (unknown.length > 0) {
  process.stderr.write(
    `cannot tell the platform of: ${unknown.join(', ')}; add their lock entries by hand\n`,
  );
  process.exit(1);
}
// npm orders entries this way; keeping it makes the next `npm install` a no-op diff.
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => a.localeCompare(b, 'en')),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(
  `package-lock.json: added ${missing.length} optional platform entr${missing.length === 1 ? 'y' : 'ies'}\n`,
);
