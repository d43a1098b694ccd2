import { run } from './program.js';

// The `gatehouse` binary (bin/gatehouse.js imports this file). Everything else is in program.ts
// so tests can run commands in-process with their own streams and environment.

process.exitCode = await run(process.argv, {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
