import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'tools/*'],
    passWithNoTests: false,
    // The JSON report is what .ci/run counts its closing line from.
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
  },
});
