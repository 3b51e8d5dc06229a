// Two projects: unit tests need nothing; integration and e2e tests get real Kafka and a real schema
// registry from test/helpers/global-setup.ts (env → Testcontainers → local runtime → loud failure).
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: true }];
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts'],
      // Three more JVMs and 500/s for minutes: `npm run test:failover` runs it on its own.
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/failover\\.test\\.ts$'],
      globalSetup: '<rootDir>/test/helpers/global-setup.ts',
      globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/helpers/matchers.ts'],
      testTimeout: 120_000,
    },
  ],
};
