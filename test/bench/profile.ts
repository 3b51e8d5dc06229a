/**
 * Summarizes .cpuprofile files (from `npm run bench -- --profile <service>`): self time per function
 * (with its file and line) and per package, the top entries first. Used to pick what to fix.
 *
 *   node dist/bench/test/bench/profile.js <profile dir or file> [top=25]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function files(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(path, f));
}

function packageOf(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:') || url === '') return url === '' ? '(native/gc/idle)' : 'node core';
  const m = /\/dist\/(?:bench\/)?([^/]+)\//.exec(url);
  return m ? `nylas-stream ${m[1]}` : url;
}

function summarize(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  let total = 0;
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const n = byId.get(id);
    if (!n) continue;
    const f = n.callFrame;
    if (f.functionName === '(idle)') continue;
    total += ms;
    const short = f.url.replace(/^.*\/(node_modules|dist\/bench|dist)\//, '');
    const key = `${f.functionName || '(anonymous)'} ${short}:${f.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
    const pkg = f.functionName.startsWith('(') ? f.functionName : packageOf(f.url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
  }
  // Inclusive time: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(node_modules|dist\/bench|dist)\//, '')}:${n.callFrame.lineNumber + 1}`;
  const inclusive = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const leaf = byId.get(id);
    if (!leaf || leaf.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node || node.callFrame.functionName === '(root)') continue;
      const key = keyOf(node);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
  }
  const pct = (ms: number) => `${((ms / total) * 100).toFixed(1).padStart(5)} %`;
  console.log(`\n${file}: ${(total / 1000).toFixed(1)} s busy`);
  console.log('  by package:');
  for (const [k, ms] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15))
    console.log(`    ${pct(ms)}  ${k}`);
  console.log('  by function (self time):');
  for (const [k, ms] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`    ${pct(ms)}  ${k}`);
  console.log('  by function (inclusive):');
  for (const [k, ms] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`    ${pct(ms)}  ${k}`);
}

const [path, top] = process.argv.slice(2);
if (!path) {
  console.error('usage: node dist/bench/test/bench/profile.js <profile dir or file> [top]');
  process.exit(2);
}
for (const f of files(path)) summarize(f, Number(top ?? 25));
