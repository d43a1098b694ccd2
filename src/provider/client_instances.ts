import type Provider from 'oidc-provider';

// Every token, introspection, revocation and userinfo request looks its client up, several times.
// The library builds a Client from the adapter's payload once and keeps it, but finds it again on
// every look-up by a SHA-256 of the payload's JSON: the adapter parses its kept text into a fresh
// payload, the library serialises and hashes it and looks the hash up (≈ 10–15 µs a look-up,
// BENCHMARKS.md). Here the Client the library returned is kept per client id with the text it was
// built from, and handed out again while the adapter's cache holds the same text: the library
// would have found that same instance (same payload, same hash). A changed client (config sync,
// another instance's write announced, the cache's expiry) has another text, or none, and goes the
// library's way again. Unknown ids always do (nothing is kept for them).

interface ClientText {
  /** the adapter's kept JSON text of a client's metadata (postgres_adapter.ts) */
  findClientText(id: string): Promise<string | undefined>;
}

const hasClientText = (adapter: unknown): adapter is ClientText => typeof (adapter as Partial<ClientText> | undefined)?.findClientText === 'function';

export function reuseClientInstances(provider: Provider): void {
  const Client = provider.Client;
  const adapter: unknown = (Client as unknown as { adapter?: unknown }).adapter;
  if (!hasClientText(adapter)) return;
  const find = Client.find.bind(Client);
  const kept = new Map<string, { text: string; client: NonNullable<Awaited<ReturnType<typeof find>>> }>();
  Client.find = async (id: string) => {
    if (typeof id !== 'string' || id.length === 0) return find(id);
    const text = await adapter.findClientText(id);
    if (text === undefined) {
      kept.delete(id);
      return find(id);
    }
    const known = kept.get(id);
    if (known && known.text === text) return known.client;
    const client = await find(id);
    // Kept only if the library built it from this very text (no change in between).
    if (client && (await adapter.findClientText(id)) === text) kept.set(id, { text, client });
    return client;
  };
}
