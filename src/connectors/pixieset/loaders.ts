import DataLoader from 'dataloader';
import { perKey } from '../batch';
import type { ParticipantModel, RequestScope } from '../types';
import type { PixiesetClient } from './client';
import { mapClient } from './mapper';
import type { PixiesetConversationDto } from './types';

/**
 * One operation's loaders. Pixieset has no batch read by ids, so each batch is one request per distinct key,
 * deduplicated and cached for the operation, settled per key (connectors/batch.ts): a 404 is null, any other
 * failure that key's error.
 */
export interface PixiesetLoaders {
  /** `GET /conversations/{id}`: the detail, with messages and participants. */
  details: DataLoader<string, PixiesetConversationDto | null>;
  /** `GET /clients/{id}`, as a participant. */
  clients: DataLoader<string, ParticipantModel | null>;
}

export function createPixiesetLoaders(client: PixiesetClient, scope: RequestScope, sourceId: string): PixiesetLoaders {
  return {
    details: new DataLoader(
      perKey((id: string) => client.detail(scope, id)),
      { maxBatchSize: 20 },
    ),
    clients: new DataLoader(perKey(async (id: string) => mapClient(sourceId, await client.client(scope, id)))),
  };
}
