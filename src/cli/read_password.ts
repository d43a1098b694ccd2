import type { Readable } from 'node:stream';
import { CliError } from './cli_errors.js';

// `--password-stdin`: the password comes from a pipe, never from argv (where `ps` and shell
// history would see it). Like `docker login --password-stdin`, one trailing line break is
// dropped so `echo "$PASSWORD" | gatehouse …` and Windows-edited files both work.

const MAX_BYTES = 4096;

export type PasswordSource = Readable & { isTTY?: boolean };

export async function readPasswordFromStdin(stdin: PasswordSource): Promise<string> {
  if (stdin.isTTY) {
    // Typed at a terminal it would be echoed on screen: ask for a pipe instead.
    throw new CliError(`--password-stdin reads a pipe, not a terminal: read -rs PW && printf '%s' "$PW" | gatehouse …`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_BYTES) throw new CliError(`the password on stdin is longer than ${MAX_BYTES} bytes`);
    chunks.push(buffer);
  }
  const password = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  // A login form's password field cannot hold a line break: such a password could never be used.
  if (/[\r\n]/.test(password)) throw new CliError('the password on stdin must be a single line');
  return password;
}
