// The layers of src/, lowest first (README, "Project layout"). A folder may import its own files and
// any folder of a lower layer; never a folder of its own layer or of one above. `npm test`
// runs this check (npm run lint:layers), so an upward import or a cycle fails the build.
const LAYERS = [
  ['core'], // logging, errors, request context: imports nothing of ours
  ['i18n'], // languages: the message catalogues, choosing a request's language, t()
  ['config'], // env and config file
  ['db'], // the Db interface, migrations, the embedded database
  ['cache'], // the per-process read caches and the listener that invalidates them
  ['accounts', 'audit', 'pages', 'http', 'observability'], // users and passwords, audit trail, page rendering, HTTP building blocks, metrics
  ['storage', 'keys'], // what oidc-provider stores (every table but users and audit), signing keys
  ['throttling', 'logout', 'passkeys', 'mail'], // login and client throttles, sign-out delivery, WebAuthn ceremonies, the mail queue
  ['mfa'], // second factors: TOTP, recovery codes, passkeys' count and removal, the factor list
  ['provider'], // oidc-provider assembly and its extensions
  ['federation'], // sign-in through upstream identity providers
  ['interactions', 'account_page', 'self_service'], // login and consent, the /account page, pages reached from mailed links
  ['app'], // Express composition
  ['process', 'cli'], // serving, the cluster, the gatehouse command
];

const folderOf = (name) => `^src/${name}/`;
const rules = [];
LAYERS.forEach((layer, rank) => {
  for (const folder of layer) {
    const above = LAYERS.slice(rank + 1).flat();
    const peers = layer.filter((f) => f !== folder);
    const forbidden = [...above, ...peers];
    if (forbidden.length === 0) continue;
    rules.push({
      name: `${folder}-imports-down-only`,
      comment: `${folder}/ may import only folders of lower layers (not ${forbidden.join(', ')})`,
      severity: 'error',
      from: { path: folderOf(folder) },
      to: { path: `^src/(${forbidden.join('|')})/` },
    });
  }
});
const known = LAYERS.flat();

module.exports = {
  forbidden: [
    ...rules,
    {
      name: 'no-circular',
      comment: 'no import cycle between modules',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'folder-in-a-layer',
      comment: `every folder of src/ is in a layer of .dependency-cruiser.cjs (${known.join(', ')})`,
      severity: 'error',
      from: { path: '^src/[^/]+/', pathNot: `^src/(${known.join('|')})/` },
      to: {},
    },
    {
      name: 'nothing-imports-main',
      comment: 'src/main.ts is the entry point: nothing imports it',
      severity: 'error',
      from: {},
      to: { path: '^src/main\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
