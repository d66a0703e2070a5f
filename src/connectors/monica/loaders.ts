import DataLoader from 'dataloader';
import { ErrorCode, GatewayError } from '../../errors';
import type { RequestScope } from '../types';
import type { MonicaClient } from './client';
import type { MonicaContact, MonicaConversation, MonicaUser } from './types';

/**
 * One operation's loaders. Monica has no batch read by ids (docs/vendors/monica.md), so each batch is one request per
 * distinct key, deduplicated and cached for the operation; a 404 is a null value, any other failure that key's
 * error.
 */
export interface MonicaLoaders {
  /** `GET /conversations/{id}` (embeds every message). Primed by list reads, so a listed id costs nothing. */
  conversations: DataLoader<number, MonicaConversation | null>;
  /** `GET /contacts/{id}?with=contactfields`. */
  contacts: DataLoader<number, MonicaContact | null>;
  /** `GET /me`, the account user; a single key, fetched at most once per operation and only when needed. */
  me: DataLoader<'me', MonicaUser>;
}

async function orNull<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof GatewayError && e.code === ErrorCode.NOT_FOUND) return null;
    throw e;
  }
}

/** Settles every key on its own, so one failing id does not fail its batch-mates. */
function perKey<K, V>(fetchOne: (key: K) => Promise<V>) {
  return async (keys: readonly K[]): Promise<Array<V | Error>> => {
    const settled = await Promise.allSettled(keys.map(fetchOne));
    return settled.map((s) =>
      s.status === 'fulfilled' ? s.value : s.reason instanceof Error ? s.reason : new Error(String(s.reason)),
    );
  };
}

export function createMonicaLoaders(client: MonicaClient, scope: RequestScope): MonicaLoaders {
  return {
    conversations: new DataLoader(perKey((id: number) => orNull(client.getConversation(scope, id)))),
    contacts: new DataLoader(perKey((id: number) => orNull(client.getContact(scope, id)))),
    me: new DataLoader(perKey(() => client.getMe(scope))),
  };
}
