import type { z } from 'zod';
import {
  apiSchema,
  clientSchema,
  configFieldsSchema,
  crossFieldIssues,
  entriesOf,
  identityResourceSchema,
  selfServiceSchema,
  upstreamEntry,
  type ConfigEntries,
  type Entry,
  type GatehouseConfig,
} from './gatehouse_config.js';
import { byPath, formatPath, issueProblems, type Problem } from './format_issues.js';
import { inOurWords } from './issue_wording.js';

// Every problem of a config file in one run: the fields one by one (zod, in our words), and,
// even when some are wrong, the checks between entries (duplicate ids, unknown scopes…) on the
// entries that are valid on their own. Without that, fixing one stage only revealed the next.

/** The part of a file with problems that can still be checked further (by the provider's rules). */
export interface SalvagedConfig {
  /** the valid entries of each list (the others left out) */
  config: GatehouseConfig;
  /** `config.clients[k]` is `clients[clientAt[k]]` in the file */
  clientAt: number[];
}

export type ConfigValueCheck = { ok: true; config: GatehouseConfig } | { ok: false; problems: Problem[]; salvaged: SalvagedConfig };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * `item` without the parts `issues` point at, so the rest of it can still be checked: a bad
 * entry of a list takes the value of a good one (positions stay those of the file), any other
 * bad or unknown field is left out.
 */
function withoutBadParts(item: unknown, issues: readonly z.core.$ZodIssue[]): unknown {
  const copy = structuredClone(item) as Record<string, unknown>;
  for (const issue of issues) {
    const [field, index] = issue.path;
    if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
      for (const key of issue.keys) Reflect.deleteProperty(copy, key);
    } else if (typeof field === 'string') {
      const list: unknown = copy[field];
      const items: unknown[] = Array.isArray(list) ? (list as unknown[]) : [];
      const good: unknown = typeof index === 'number' ? items.find((_, j) => !issues.some((i) => i.path[0] === field && i.path[1] === j)) : undefined;
      if (typeof index === 'number' && good !== undefined) items[index] = good;
      else Reflect.deleteProperty(copy, field);
    }
  }
  return copy;
}

/** The entries valid on their own, or once their bad parts are left out. */
function validEntries<T>(list: unknown, schema: z.ZodType<T>): Entry<T>[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((item: unknown, at) => {
    const result = schema.safeParse(item);
    if (result.success) return [{ at, value: result.data }];
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return [];
    const repaired = schema.safeParse(withoutBadParts(item, result.error.issues));
    return repaired.success ? [{ at, value: repaired.data }] : [];
  });
}

function salvage(value: unknown): { entries: ConfigEntries; salvaged: SalvagedConfig } {
  const file = isObject(value) ? value : {};
  const entries: ConfigEntries = {
    clients: validEntries(file.clients, clientSchema),
    apis: validEntries(file.apis, apiSchema),
    identity_resources: validEntries(file.identity_resources, identityResourceSchema),
    upstreams: validEntries(file.upstreams, upstreamEntry),
  };
  const selfService = selfServiceSchema.safeParse(file.self_service ?? {});
  const values = <T>(list: Entry<T>[]) => list.map((entry) => entry.value);
  return {
    entries,
    salvaged: {
      config: {
        self_service: selfService.success ? selfService.data : selfServiceSchema.parse({}),
        clients: values(entries.clients),
        apis: values(entries.apis),
        identity_resources: values(entries.identity_resources),
        upstreams: values(entries.upstreams),
      },
      clientAt: entries.clients.map((entry) => entry.at),
    },
  };
}

/** True when `path` is `under` or inside it (`clients[0].scope` is inside `clients[0]`). */
export function isWithin(path: string, under: string): boolean {
  return path === under || path.startsWith(`${under}.`) || path.startsWith(`${under}[`);
}

/**
 * `skip`: paths whose problems are beside the point (a value still holding an unset `${NAME}`:
 * what the schema thinks of the placeholder would only confuse).
 */
export function checkConfigValue(value: unknown, skip: readonly string[] = []): ConfigValueCheck {
  const parsed = configFieldsSchema.safeParse(value, { error: inOurWords });
  const fieldProblems = parsed.success ? [] : issueProblems(parsed.error, configFieldsSchema);
  const { entries, salvaged } = parsed.success
    ? {
        entries: {
          clients: entriesOf(parsed.data.clients),
          apis: entriesOf(parsed.data.apis),
          identity_resources: entriesOf(parsed.data.identity_resources),
          upstreams: entriesOf(parsed.data.upstreams),
        },
        salvaged: { config: parsed.data, clientAt: parsed.data.clients.map((_, i) => i) },
      }
    : salvage(value);
  const crossProblems = crossFieldIssues(entries).map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  // A place with a problem of its own says nothing more (a client secret left out as empty is
  // not also "required").
  const between = crossProblems.filter((p) => !fieldProblems.some((f) => isWithin(p.path, f.path) || isWithin(f.path, p.path)));
  const problems = [...fieldProblems, ...between].filter((p) => !skip.some((s) => isWithin(p.path, s)));
  if (parsed.success && problems.length === 0) return { ok: true, config: parsed.data };
  return { ok: false, problems: byPath(problems), salvaged };
}
