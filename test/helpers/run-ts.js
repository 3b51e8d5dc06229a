#!/usr/bin/env node
/**
 * Runs a TypeScript module's exported `main(argv)` without a build:
 *
 *   node test/helpers/run-ts.js test/bench/ingress-quick.ts --runs 3
 */
'use strict';
const path = require('node:path');
require('./ts-require');

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node test/helpers/run-ts.js <file.ts> [args…]');
  process.exit(2);
}
const mod = require(path.resolve(file));
if (typeof mod.main !== 'function') {
  console.error(`${file} does not export main(argv)`);
  process.exit(2);
}
Promise.resolve(mod.main(args)).then(
  (code) => process.exit(typeof code === 'number' ? code : 0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
