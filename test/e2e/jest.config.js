// `npm run test:chaos`: the end-to-end fault run on its own, without the integration project's
// globalSetup (it brings its own private Kafka and registry, so the shared test instance is not needed).
const path = require('node:path');

/** @type {import('jest').Config} */
module.exports = {
  rootDir: path.resolve(__dirname, '../..'),
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: true }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/test/e2e/chaos.test.ts'],
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
  testTimeout: 3_600_000,
};
