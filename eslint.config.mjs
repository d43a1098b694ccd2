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
      // Objects with behaviour are closures made by factories (createX(deps)), not classes: their
      // methods never read `this`, so handing over `pages.renderError` is safe, and the rule cannot
      // tell such a method from a prototype one.
      '@typescript-eslint/unbound-method': 'off',
      // `async` is how a function here meets an interface that wants a Promise (oidc-provider's
      // hooks, Db, test doubles), and it turns a throw into a rejection; dropping it would change that.
      '@typescript-eslint/require-await': 'off',
      // db.query<Row>() follows pg's own signature: the caller names the row type its SQL returns
      // (as for what takeFromRequest<T> hands back); the alternative is a cast at every call.
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
      // tsc's own convention: a leading underscore marks a parameter kept for its position, or a
      // property destructured only to leave it out of the rest.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // A test that indexes what it just asserted would fail loudly anyway.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // A test's `let gh: Gatehouse` set in beforeAll is still undefined in afterAll when beforeAll
      // failed; `gh?.close()` keeps that failure the one reported. The rule trusts the declared type,
      // and (like JSON.stringify's `string`, which is undefined for undefined) flags such guards.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // vitest's asymmetric matchers (expect.any, expect.stringMatching, expect.objectContaining) are
      // typed `any`, so each one inside an expected object counts as an unsafe assignment.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  prettier,
);
