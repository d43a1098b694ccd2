import { formatPath } from './format_issues.js';

// `${NAME}` in any string value of the config file is replaced by the environment variable NAME,
// so secrets can come from the environment (a container's secrets, a systemd credential, CI)
// and the file itself can be committed. `$${` stands for a literal `${`. A variable that is not
// set is a config problem reported with its path, like any other; an empty one is used as it is
// (the schema then says what it thinks of an empty value). Keys are never substituted.

const REFERENCE = /\$(\$?)\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface Substituted {
  value: unknown;
  /** `path: message`, as formatIssues() writes them */
  problems: string[];
  /** the paths of the strings a problem left unsubstituted */
  unresolved: string[];
}

function substituteString(text: string, env: NodeJS.ProcessEnv, at: string, problems: string[]): string {
  return text.replace(REFERENCE, (whole, escaped: string, name: string) => {
    if (escaped) return whole.slice(1);
    if (!NAME.test(name)) {
      problems.push(`${at}: "\${${name}}" is not a valid environment variable reference (use letters, digits and _; write $\${ for a literal \${)`);
      return whole;
    }
    const value = env[name];
    if (value === undefined) {
      problems.push(`${at}: environment variable ${name} is not set`);
      return whole;
    }
    return value;
  });
}

/** A copy of `value` (parsed JSON or YAML) with every `${NAME}` in its strings replaced. */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv): Substituted {
  const problems: string[] = [];
  const unresolved: string[] = [];
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') {
      const before = problems.length;
      const at = formatPath(path);
      const text = substituteString(node, env, at, problems);
      if (problems.length > before) unresolved.push(at);
      return text;
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, walk(item, [...path, key])]));
    }
    return node;
  };
  return { value: walk(value, []), problems, unresolved };
}
