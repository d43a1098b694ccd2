// typescript-eslint's strict, type-checked preset on src/ and test/; prettier owns the layout
// (eslint-config-prettier turns off the rules that would fight it).
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'bench/', 'examples/', 'bin/', 'deploy/', 'eslint.config.mjs', '.dependency-cruiser.cjs'] },
  ...tseslint.configs.strictTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } },
  {
    rules: {
      // Numbers print the same everywhere; nullable and object values still need an explicit choice
      // (the other options are spelled out: an options object replaces the preset's, and the rule's
      // own defaults would allow them).
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowAny: false, allowBoolean: false, allowNever: false, allowNullish: false, allowRegExp: false },
      ],
      // `() => server.close()` callbacks are the Node idiom; a void in a statement position is still caught.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // tsc's own convention: a leading underscore marks a parameter kept for its position, or a
      // property destructured only to leave it out of the rest.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // A test that indexes what it just asserted would fail loudly anyway.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  prettier,
);
