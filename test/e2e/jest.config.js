// `npm run test:chaos` and `npm run test:failover`: the end-to-end fault runs on their own, without the
// integration project's globalSetup (each brings its own private Kafka and registry, so the shared test
// instance is not needed). The scripts pick one by path.
const path = require('node:path');

/** @type {import('jest').Config} */
module.exports = {
  rootDir: path.resolve(__dirname, '../..'),
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: true }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/test/e2e/chaos.test.ts', '<rootDir>/test/e2e/failover.test.ts'],
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
  testTimeout: 3_600_000,
};
