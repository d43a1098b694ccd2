import { buildDist } from './spawn_gatehouse.js';

// Compiles src/ to dist/ once per run, for the tests that run `node dist/main.js` or the
// `gatehouse` binary as an operator would (spawn_gatehouse.ts, test/cli/binary.test.ts). One build
// before any file starts: files building at the same time used to race on dist/ and each paid for
// its own tsc start. Incremental, so about 2.5 s here when nothing changed.
export default async function setup(): Promise<void> {
  await buildDist();
}
