import DataLoader from 'dataloader';
import { perKey } from '../batch';
import type { RequestScope } from '../types';
import type { ChatwootClient } from './client';
import type { ChatwootAgentBotDto, ChatwootAgentDto, ChatwootContactDto, ChatwootConversationDto } from './types';

/**
 * One operation's loaders. Chatwoot has no batch endpoints, so each loader makes one request per distinct
 * key (DataLoader deduplicates and caches for the session), settled per key (connectors/batch.ts: a 404 is
 * null, any other failure that key's error); agents come from one `GET /agents` per session.
 */
export interface ChatwootLoaders {
  /** By display id. */
  conversations: DataLoader<number, ChatwootConversationDto | null>;
  contacts: DataLoader<number, ChatwootContactDto | null>;
  agentBots: DataLoader<number, ChatwootAgentBotDto | null>;
  /** Every agent of the account, read once. */
  agents(): Promise<Map<number, ChatwootAgentDto>>;
}

export function createChatwootLoaders(client: ChatwootClient, scope: RequestScope): ChatwootLoaders {
  let agents: Promise<Map<number, ChatwootAgentDto>> | null = null;
  return {
    conversations: new DataLoader(
      perKey((id: number) => client.getConversation(scope, id)),
      { maxBatchSize: 20 },
    ),
    contacts: new DataLoader(
      perKey((id: number) => client.getContact(scope, id)),
      { maxBatchSize: 20 },
    ),
    agentBots: new DataLoader(perKey((id: number) => client.getAgentBot(scope, id))),
    agents: () => {
      if (!agents) {
        agents = client.listAgents(scope).then((list) => new Map(list.map((a) => [a.id, a])));
        // A failed read is not cached: the next field may try again.
        agents.catch(() => {
          agents = null;
        });
      }
      return agents;
    },
  };
}
