// typescript-eslint's strict, type-checked preset on src/ and test/; prettier owns the layout
// (eslint-config-prettier turns off the rules that would fight it).
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'bench/', 'examples/', 'bin/', 'deploy/', 'eslint.config.mjs', '.dependency-cruiser.cjs'] },
  ...tseslint.configs.strictTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } },
  {
    // A test that indexes what it just asserted would fail loudly anyway.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  prettier,
);
