import { createRequire } from 'node:module';
import type { ParseError } from 'jsonc-parser';
import type { YAMLError } from 'yaml';

// A config file holds client secrets, so a syntax error is reported by line and column only:
// V8's JSON.parse messages quote the text around the error ("Unexpected token 's', "{ "secret":
// s3cr3t }" is not valid JSON") and some yaml messages quote a token, so neither is ever shown.

function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${(before.at(-1) ?? '').length + 1}`;
}

// 'PropertyNameExpected' → 'property name expected'; 'BAD_INDENT' → 'bad indent'
const words = (code: string) =>
  code
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/_/g, ' ')
    .toLowerCase();

/** The first syntax error of a JSON text that JSON.parse refused, without quoting the text. */
export function jsonSyntaxProblem(text: string): string {
  if (text.trim() === '') return '(syntax): the file is empty';
  // Only a file JSON.parse refused needs the error-tolerant parser: required then, not at every start.
  const { parse: parseJsonc, printParseErrorCode } = createRequire(import.meta.url)('jsonc-parser') as typeof import('jsonc-parser');
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { disallowComments: true, allowTrailingComma: false });
  const first = errors[0];
  if (first) return `(syntax): not valid JSON at ${lineAndColumn(text, first.offset)} (${words(printParseErrorCode(first.error))})`;
  return '(syntax): not valid JSON';
}

export function yamlSyntaxProblem(error: YAMLError): string {
  const at = error.linePos?.[0];
  return `(syntax): not valid YAML${at ? ` at line ${at.line}, column ${at.col}` : ''} (${words(error.code)})`;
}

/** yaml's toJS() throws for an alias naming no anchor, quoting the alias (which may be a secret). */
export function yamlResolveProblem(error: unknown): string {
  return `(syntax): not valid YAML (${error instanceof ReferenceError ? 'an alias names no anchor' : 'cannot be resolved'})`;
}
