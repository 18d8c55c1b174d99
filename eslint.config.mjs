import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/**
 * Dependency direction (DESIGN.md): wire, codec → crypto, scoring → http, client →
 * conformance → apps and tools. The same rule is checked again, without ESLint, by
 * tools/checks/test/topology.test.ts.
 */
const depConstraints = [
  { sourceTag: 'layer:core', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'layer:trust', onlyDependOnLibsWithTags: ['layer:core'] },
  {
    sourceTag: 'layer:edge',
    onlyDependOnLibsWithTags: ['layer:core', 'layer:trust', 'layer:edge'],
  },
  {
    sourceTag: 'layer:conformance',
    onlyDependOnLibsWithTags: ['layer:core', 'layer:trust', 'layer:edge'],
  },
  {
    sourceTag: 'layer:app',
    onlyDependOnLibsWithTags: ['layer:core', 'layer:trust', 'layer:edge', 'layer:conformance'],
  },
  {
    sourceTag: 'layer:tool',
    // Private tools may build on each other (benchmarks reuse the e2e process helpers).
    onlyDependOnLibsWithTags: [
      'layer:core',
      'layer:trust',
      'layer:edge',
      'layer:conformance',
      'layer:app',
      'layer:tool',
    ],
  },
];

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/out-tsc/**',
      '**/node_modules/**',
      'reports/**',
      '.nx/**',
      '**/*.d.ts',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, allow: [], depConstraints },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ExportAllDeclaration',
          message: 'Public API is a curated list of named exports; no export *.',
        },
      ],
    },
  },
  {
    // DESIGN.md: @iicp/http is the only package that touches fastify, undici or pino.
    files: ['apps/*/src/**/*.ts', 'packages/*/src/**/*.ts', 'tools/*/src/**/*.ts'],
    ignores: ['packages/http/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['fastify', 'undici', 'pino'].map((name) => ({
            name,
            message:
              'Only @iicp/http imports fastify, undici or pino; import what you need from @iicp/http.',
          })),
        },
      ],
    },
  },
  {
    // CommonJS files (the native addon's loader and install step) load with require().
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Vitest configs share one helper at the root; they are not project sources.
    files: ['**/vitest.config.mts', 'vitest.*.mts'],
    rules: { '@nx/enforce-module-boundaries': 'off' },
  },
  prettier,
);
