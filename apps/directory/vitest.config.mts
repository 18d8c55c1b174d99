import { iicpProject } from '../../vitest.shared.mts';

const base = iicpProject('directory', { testTimeout: 60_000 });

/** One throwaway PostgreSQL server per run (test/support/global-setup.ts). */
export default {
  ...base,
  test: { ...base.test, globalSetup: ['./test/support/global-setup.ts'] },
};
