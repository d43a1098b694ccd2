import { closest, distance } from 'fastest-levenshtein';
import type { z } from 'zod';

// "clients[0].redirect_uri: unknown field; did you mean `redirect_uris`?": the fields the schema knows at
// the place of an unknown one, and the nearest of them when it is near enough to be a typo.

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: z.ZodType[];
};

const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas a value at `path` may have to satisfy (several below a union). */
function objectsAt(schema: z.ZodType, path: readonly PropertyKey[]): Def[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'object': {
      if (path.length === 0) return [def];
      const [head, ...rest] = path;
      const field = def.shape?.[String(head)];
      return field ? objectsAt(field, rest) : [];
    }
    case 'array': {
      if (path.length === 0 || typeof path[0] !== 'number' || !def.element) return [];
      return objectsAt(def.element, path.slice(1));
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return def.innerType ? objectsAt(def.innerType, path) : [];
    case 'pipe': {
      // z.preprocess(fn, schema) is a pipe from a transform; schema.transform(fn) a pipe into one.
      const inner = [def.in, def.out].filter((s): s is z.ZodType => s !== undefined && defOf(s).type !== 'transform');
      return inner.flatMap((s) => objectsAt(s, path));
    }
    case 'union':
      return (def.options ?? []).flatMap((option) => objectsAt(option, path));
    default:
      return [];
  }
}

export function knownFields(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  return [...new Set(objectsAt(schema, path).flatMap((def) => Object.keys(def.shape ?? {})))];
}

/** The known field an unknown one is most likely a typo of, if any is close enough. */
function nearestField(unknown: string, known: readonly string[]): string | undefined {
  if (known.length === 0) return undefined;
  const candidate = closest(unknown.toLowerCase(), [...known]);
  // A third of the name may differ (`redirect_uri` → `redirect_uris`, `clientid` → `client_id`,
  // `grant_type` → `grant_types`); farther than that a suggestion is a guess.
  return distance(unknown.toLowerCase(), candidate) <= Math.max(2, Math.floor(candidate.length / 3)) ? candidate : undefined;
}

export function unknownFieldMessage(unknown: string, known: readonly string[]): string {
  const suggestion = nearestField(unknown, known);
  return `unknown field${suggestion ? `; did you mean \`${suggestion}\`?` : ''}`;
}
