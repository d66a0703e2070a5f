import type { PixiesetSourceConfig } from '../../config/schema';
import type { CatalogReader } from '../catalog';
import type { ConversationModel, ParticipantModel, RequestScope } from '../types';
import type { PixiesetClient } from './client';
import { createPixiesetLoaders, type PixiesetLoaders } from './loaders';
import { mapConversation } from './mapper';

/** Full reads of the list until every conversation of `meta.total` was seen, at most (see scan). */
export const SCAN_ROUNDS = 4;

/** Participants that are the same for every user of this source (the studio's photographers). */
export type AgentDirectory = Map<string, ParticipantModel>;

/**
 * What one call's reads share: the full reads of the list by client filter (`'*'` for all) and the detail loader.
 * A session passes its own, so a catalog sync reuses a full read the operation made already.
 */
export interface PixiesetReadCache {
  scans: Map<string, Promise<ConversationModel[]>>;
  details: PixiesetLoaders['details'];
}

/** A conversation model, its agents noted in the connector's directory on the way. */
export function rememberAgents(agents: AgentDirectory, c: ConversationModel): ConversationModel {
  for (const p of c.participants ?? []) if (p.kind === 'AGENT') agents.set(p.nativeId, p);
  return c;
}

/**
 * Reads every page (100 a request) once per cache, in whatever order the vendor serves. Page numbers read a list
 * completely only while its order holds still: a conversation that moves across a page boundary between two
 * requests (new activity in an activity-ordered list, or an unstable order) is met twice or not at all. So rows
 * are merged by id, and while fewer than `meta.total` were seen the pages are read again, at most
 * {@link SCAN_ROUNDS} times in all (docs/vendors/pixieset.md "Assumptions"); a later round's row wins.
 */
export function scanPixieset(
  client: PixiesetClient,
  scope: RequestScope,
  sourceId: string,
  agents: AgentDirectory,
  scans: PixiesetReadCache['scans'],
  clientId: string | undefined,
): Promise<ConversationModel[]> {
  const key = clientId ?? '*';
  let p = scans.get(key);
  if (!p) {
    p = (async () => {
      const byId = new Map<string, ConversationModel>();
      for (let round = 0; round < SCAN_ROUNDS; round++) {
        const first = await client.list(scope, { page: 1, pageSize: 100, clientId, withMessages: true });
        const rest = await Promise.all(
          Array.from({ length: Math.max(0, first.meta.last_page - 1) }, (_, i) =>
            client.list(scope, { page: i + 2, pageSize: 100, clientId, withMessages: true }),
          ),
        );
        for (const page of [first, ...rest]) {
          for (const c of page.data) byId.set(c.id, rememberAgents(agents, mapConversation(sourceId, c)));
        }
        if (byId.size >= first.meta.total) break;
      }
      return [...byId.values()];
    })();
    scans.set(key, p);
  }
  return p;
}

/**
 * Pixieset's catalog reader (connectors/catalog.ts `CatalogReader`), used only once the vendor's list order broke
 * (order.ts: the source then lists from a catalog it sorts itself). The full sync is {@link scanPixieset} of every
 * conversation; one conversation is its detail (`GET /conversations/{id}`, null when gone).
 */
export function createPixiesetCatalogReader(
  config: PixiesetSourceConfig,
  client: PixiesetClient,
  agents: AgentDirectory,
): CatalogReader<PixiesetReadCache> {
  const sourceId = config.id;
  return {
    readAll: (scope, cache) => scanPixieset(client, scope, sourceId, agents, cache.scans, undefined),
    async readOne(_scope, nativeId, cache) {
      cache.details.clear(nativeId);
      const dto = await cache.details.load(nativeId);
      return dto ? rememberAgents(agents, mapConversation(sourceId, dto)) : null;
    },
    cache: (scope) => ({ scans: new Map(), details: createPixiesetLoaders(client, scope, sourceId).details }),
  };
}
