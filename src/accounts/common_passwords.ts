import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The breached-password list new passwords are checked against (lists/README.md says where it
// comes from). ~18,000 lines: read once per process, on first use, into a Set.

const COMMON_PASSWORDS_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../lists/common-passwords.txt');

const loaded = new Map<string, Promise<ReadonlySet<string>>>();

/** The list's entries, lower-cased; cached per file. */
export function loadCommonPasswords(file: string = COMMON_PASSWORDS_FILE): Promise<ReadonlySet<string>> {
  let set = loaded.get(file);
  if (!set) {
    set = readFile(file, 'utf8').then(
      (text) =>
        new Set(
          text
            .split(/\r?\n/)
            .filter(Boolean)
            .map((line) => line.normalize('NFKC').toLowerCase()),
        ),
    );
    // A failed read (file missing from a broken install) is reported, not cached for ever.
    set.catch(() => loaded.delete(file));
    loaded.set(file, set);
  }
  return set;
}
