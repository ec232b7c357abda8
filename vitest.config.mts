import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure logic, `*.unit.test.ts`, no infrastructure) and `integration`
 * (everything else, against one real sandbox started by the global setup).
 * `vitest run --project unit` gives a fast loop; `npm test` runs both.
 */
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 300_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.unit.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.unit.test.ts'],
          globalSetup: ['test/harness/global-setup.ts'],
          // One sandbox serves every file; files that stop and start its parts must not overlap.
          fileParallelism: false,
        },
      },
    ],
  },
});
