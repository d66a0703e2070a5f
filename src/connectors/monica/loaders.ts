import DataLoader from 'dataloader';
import { perKey } from '../batch';
import type { RequestScope } from '../types';
import type { MonicaClient } from './client';
import type { MonicaContactDto, MonicaConversationDto, MonicaUserDto } from './types';

/**
 * One operation's loaders. Monica has no batch read by ids (docs/vendors/monica.md), so each batch is one request per
 * distinct key, deduplicated and cached for the operation, settled per key (connectors/batch.ts): a 404 is a
 * null value, any other failure that key's error.
 */
export interface MonicaLoaders {
  /** `GET /conversations/{id}` (embeds every message). Primed by list reads, so a listed id costs nothing. */
  conversations: DataLoader<number, MonicaConversationDto | null>;
  /** `GET /contacts/{id}?with=contactfields`. */
  contacts: DataLoader<number, MonicaContactDto | null>;
  /** `GET /me`, the account user; a single key, fetched at most once per operation and only when needed. */
  me: DataLoader<'me', MonicaUserDto>;
}

export function createMonicaLoaders(client: MonicaClient, scope: RequestScope): MonicaLoaders {
  return {
    conversations: new DataLoader(perKey((id: number) => client.getConversation(scope, id))),
    contacts: new DataLoader(perKey((id: number) => client.getContact(scope, id))),
    me: new DataLoader(perKey(() => client.getMe(scope), { notFound: 'error' })),
  };
}
