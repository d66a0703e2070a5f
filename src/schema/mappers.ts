import type { ConversationModel, MessageModel } from '../connectors/types';

/** A Relay connection before resolution: its edges and what the page knows about its neighbours. */
export interface ConnectionModel<N> {
  edges: Array<{ cursor: string; node: N }>;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  totalCount: number | null;
}

/** Hand-written parent types for connection objects (codegen `mappers`). */
export type ConversationConnectionModel = ConnectionModel<ConversationModel>;
export type MessageConnectionModel = ConnectionModel<MessageModel>;

/** The fields every connection type resolves the same way. */
export function connectionFields<N>() {
  return {
    edges: (c: ConnectionModel<N>) => c.edges,
    nodes: (c: ConnectionModel<N>) => c.edges.map((e) => e.node),
    pageInfo: (c: ConnectionModel<N>) => ({
      hasNextPage: c.hasNextPage,
      hasPreviousPage: c.hasPreviousPage,
      startCursor: c.edges[0]?.cursor ?? null,
      endCursor: c.edges[c.edges.length - 1]?.cursor ?? null,
    }),
  };
}
