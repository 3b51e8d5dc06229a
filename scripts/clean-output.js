// Empties a compiler output directory before tsc writes it: tsc never deletes, so a module removed or
// moved from the sources left its old .js behind, and Node resolved `stages/normalize` to the stale
// `dist/processors/stages/normalize.js` instead of the new `normalize/index.js` (found 2026-12-06: local
// benchmark figures had run old code for a day). Usage: node scripts/clean-output.js <dir> [--keep <name>]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [dir, flag, keep] = process.argv.slice(2);
if (!dir || (flag !== undefined && (flag !== '--keep' || !keep))) {
  console.error('usage: node scripts/clean-output.js <dir> [--keep <name>]');
  process.exit(2);
}
if (!fs.existsSync(dir)) process.exit(0);
for (const entry of fs.readdirSync(dir)) {
  if (entry === keep) continue;
  fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
}
