import { defaultServerConditions, type UserConfig } from 'vite';
import { defineProject } from 'vitest/config';

/**
 * Every workspace project runs its tests on the sibling packages' TypeScript sources
 * (the `@iicp/source` export condition), so `npm test` needs no build first.
 */
const conditions = ['@iicp/source', ...defaultServerConditions];

export function iicpProject(name: string, extra: { testTimeout?: number } = {}): UserConfig {
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@iicp/source'] } },
    test: {
      name,
      environment: 'node',
      include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
      testTimeout: extra.testTimeout ?? 20_000,
    },
  });
}
