import { describe, expect, it } from 'vitest';
import { substituteEnv } from '../../src/config/env_substitution.js';
import { parseConfig } from '../../src/config/load_config_file.js';
import { ConfigError } from '../../src/config/format_issues.js';

// `${NAME}` in config-file strings: replaced from the given environment, problems named by path.

describe('substituteEnv', () => {
  it('replaces every reference in every string, at any depth, and leaves other values and keys alone', () => {
    const input = {
      clients: [{ client_id: 'web', client_secret: '${WEB_SECRET}', redirect_uris: ['https://${HOST}:${PORT}/cb'], skip_consent: true }],
      '${NOT_A_VALUE}': 1,
    };
    const { value, problems } = substituteEnv(input, { WEB_SECRET: 's3cret', HOST: 'web.example.com', PORT: '8443' });
    expect(problems).toEqual([]);
    expect(value).toEqual({
      clients: [{ client_id: 'web', client_secret: 's3cret', redirect_uris: ['https://web.example.com:8443/cb'], skip_consent: true }],
      '${NOT_A_VALUE}': 1,
    });
  });

  it('does not touch the input', () => {
    const input = { a: ['${X}'] };
    substituteEnv(input, { X: 'y' });
    expect(input).toEqual({ a: ['${X}'] });
  });

  it('uses a variable set to the empty string as it is', () => {
    expect(substituteEnv({ a: 'x${EMPTY}y' }, { EMPTY: '' })).toEqual({ value: { a: 'xy' }, problems: [], unresolved: [] });
  });

  it('reads $${ as a literal ${, and a lone $ or {} as text', () => {
    expect(substituteEnv({ a: 'pa$$${word}', b: 'co$t {x}', c: '$${X}' }, {}).value).toEqual({ a: 'pa$${word}', b: 'co$t {x}', c: '${X}' });
  });

  it('reports each unset variable and each malformed reference with its path', () => {
    const { problems } = substituteEnv({ clients: [{ client_secret: '${WEB_SECRET}' }, { scope: '${1BAD} ${}' }] }, { OTHER: 'x' });
    expect(problems).toEqual([
      'clients[0].client_secret: environment variable WEB_SECRET is not set',
      'clients[1].scope: "${1BAD}" is not a valid environment variable reference (use letters, digits and _; write $${ for a literal ${)',
      'clients[1].scope: "${}" is not a valid environment variable reference (use letters, digits and _; write $${ for a literal ${)',
    ]);
  });
});

describe('parseConfig', () => {
  it('substitutes before validating, in YAML as in JSON', () => {
    const yaml = 'clients:\n  - client_id: job\n    client_secret: ${JOB_SECRET}\n    grant_types: [client_credentials]\n';
    const config = parseConfig('gatehouse.config.yaml', yaml, { JOB_SECRET: 'job-secret-0123456789abcdef0123456789' });
    expect(config.clients[0]!.client_secret).toBe('job-secret-0123456789abcdef0123456789');
  });

  it('fails with the path of a missing variable, not with what the schema thinks of the placeholder', () => {
    const json = JSON.stringify({ clients: [{ client_id: 'job', client_secret: '${JOB_SECRET}', grant_types: ['client_credentials'] }] });
    let error: unknown;
    try {
      parseConfig('gatehouse.config.json', json, {});
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(['clients[0].client_secret: environment variable JOB_SECRET is not set']);
  });

  it('validates the substituted value: an empty secret is an empty secret', () => {
    const json = JSON.stringify({ clients: [{ client_id: 'job', client_secret: '${JOB_SECRET}', grant_types: ['client_credentials'] }] });
    expect(() => parseConfig('gatehouse.config.json', json, { JOB_SECRET: '' })).toThrow(/clients\[0\]\.client_secret: must not be empty/);
  });
});
