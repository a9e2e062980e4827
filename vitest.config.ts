import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources (the `@forge/source` export
// condition), so tests never run against a stale build. Without vite's `module` condition,
// which is for bundlers: the AWS SDK's `module` builds have extensionless imports that
// Node cannot load, while its `node` builds are what the server runs.
const conditions = ['@forge/source', ...defaultServerConditions.filter((c) => c !== 'module')];

// UI views are preact TSX (packages/web, modules' ui/ folders): the automatic JSX runtime
// from preact, the same settings as those packages' tsconfig (`jsxImportSource: preact`).
const shared = {
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  oxc: { jsx: { runtime: 'automatic' as const, importSource: 'preact' } },
};

export default defineConfig({
  ...shared,
  test: {
    reporters: process.env.CI ? ['default'] : ['default'],
    projects: [
      {
        ...shared,
        test: {
          name: 'unit',
          include: ['packages/**/test/unit/**/*.test.ts', 'apps/**/test/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        ...shared,
        test: {
          name: 'integration',
          include: ['packages/**/test/integration/**/*.test.ts', 'apps/**/test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        ...shared,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts', 'packages/**/test/e2e/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
