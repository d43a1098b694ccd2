import type { Command } from 'commander';
import { loadConfigFile } from '../config/load_config_file.js';
import type { ClientConfig } from '../config/gatehouse_config.js';
import type { CliContext } from './cli_context.js';
import { formatTable } from './format_table.js';

// `gatehouse clients list [--json]`: the clients the config file defines ($CONFIG_FILE), as the
// server serves them once it has (re)loaded that file. Read from the file, not the database:
// it is the one place clients are defined, and a file being edited can be listed before reload.
// Secrets are never shown.

/** How the client proves itself at the token endpoint, in words an operator can scan. */
function kind(client: ClientConfig): string {
  if (client.token_endpoint_auth_method === 'none') return `public${client.application_type === 'native' ? ' (native)' : ''}`;
  return `confidential (${client.token_endpoint_auth_method})`;
}

function listed(client: ClientConfig) {
  return {
    client_id: client.client_id,
    client_name: client.client_name ?? null,
    application_type: client.application_type ?? 'web',
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    grant_types: client.grant_types,
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris,
    scope: client.scope ?? null,
    skip_consent: client.skip_consent,
  };
}

export function registerClientsCommands(program: Command, ctx: CliContext): void {
  const clients = program.command('clients').description('the OAuth clients of the config file');

  clients
    .command('list')
    .description('list the clients of $CONFIG_FILE (id, name, kind, grant types, redirect URIs); never their secrets')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: { json?: boolean }) => {
      const file = ctx.env().configFile;
      const { config, found } = await loadConfigFile(file, { env: ctx.io.env, optional: ctx.io.env.CONFIG_FILE === undefined });
      if (options.json) {
        ctx.print(JSON.stringify(config.clients.map(listed), null, 2));
        return;
      }
      if (config.clients.length === 0) {
        ctx.print(found ? `no clients in ${file}` : `no config file at ${file}, so no clients (see README, "Config file")`);
        return;
      }
      ctx.print(
        formatTable(
          ['client_id', 'name', 'kind', 'grant types', 'redirect URIs'],
          config.clients.map((c) => [c.client_id, c.client_name, kind(c), c.grant_types.join(','), c.redirect_uris.join(' ')]),
        ),
      );
    });
}
