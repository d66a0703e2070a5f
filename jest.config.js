/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 30000,
  // A Redis for the Redis suites: the one at REDIS_URL when it answers, else a throwaway redis-server.
  globalSetup: '<rootDir>/test/utils/redis-global-setup.ts',
  globalTeardown: '<rootDir>/test/utils/redis-global-teardown.ts',
};
