import type Provider from 'oidc-provider';
import type { Db } from '../db/db.js';
import { createOidcModelsStore } from './oidc_models_store.js';
import { GatehouseError } from '../core/errors.js';

// oidc-provider remembers each client assertion and DPoP proof it accepts (the ReplayDetection
// model) by calling `find` and then `upsert`. Two requests carrying the same proof at once both
// find nothing; if both saves succeed, both requests are served. Here the save is an insert
// that only the first writer wins (a unique key and ON CONFLICT DO NOTHING, never merged with
// other writes), and the loser is told the proof was seen, so the library refuses it with its
// own error, as it refuses a proof sent again later (`invalid_client` for an assertion,
// `invalid_grant` for a DPoP proof at the token endpoint).

/** Thrown by the adapter when another request stored the same proof first. */
export class ReplayDetected extends GatehouseError {
  constructor() {
    super('ERR_REPLAY_DETECTED', 'this proof was already used');
  }
}

/** Stores a proof's row; throws ReplayDetected when a live row with this key exists. */
export function createReplayInsert(db: Db) {
  const store = createOidcModelsStore(db);
  return async (key: string, payload: unknown, expiresAt: Date | null): Promise<void> => {
    if (!(await store.insertReplay(key, payload, expiresAt))) throw new ReplayDetected();
  };
}

/** Makes the library's uniqueness check answer "seen before" when the adapter lost the race. */
export function refuseConcurrentReplays(provider: Provider): void {
  const model = provider.ReplayDetection as unknown as { unique(iss: string, jti: string, exp: number): Promise<boolean> };
  const unique = model.unique;
  model.unique = async function (this: unknown, iss, jti, exp) {
    try {
      return await unique.call(this, iss, jti, exp);
    } catch (error) {
      if (error instanceof ReplayDetected) return false;
      throw error;
    }
  };
}
