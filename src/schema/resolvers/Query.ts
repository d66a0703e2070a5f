import type { QueryResolvers } from '../__generated__/resolvers-types';
import { decodeGlobalId } from '../ids';
import { resolveInbox } from '../inbox';
import type { GatewayContext } from '../context';
import type {
  AttachmentModel,
  ConversationModel,
  MessageModel,
  ParticipantModel,
  SourceModel,
  SourceUnreadModel,
  UnreadCountModel,
} from '../../connectors/types';
import { GatewayError, ErrorCode } from '../../errors';
import { notFoundOf, partial, resolveId, sourceModel } from './shared';

/**
 * Longest accepted `filter.search`, in characters: the text goes into vendor URLs (Chatwoot's `q`), and a 900 KB
 * one made the vendor answer 431. Longer is BAD_USER_INPUT before any source is asked (issue 12 item 12).
 */
export const MAX_SEARCH_LENGTH = 256;

type NodeModel = ConversationModel | MessageModel | ParticipantModel | AttachmentModel | SourceModel;

/** node(id): null for malformed ids, hidden sources and missing objects alike (Relay). */
async function loadNode(ctx: GatewayContext, id: string): Promise<NodeModel | null> {
  const d = decodeGlobalId(id);
  if (!d || !ctx.viewer.sourceIds.has(d.sourceId)) return null;
  const connector = ctx.connector(d.sourceId);
  const session = () => ctx.session(d.sourceId);
  try {
    switch (d.type) {
      case 'Source':
        return sourceModel(connector);
      case 'Conversation':
        return await session().loadConversation(d.nativeId);
      case 'Message':
        return await session().loadMessage(d.nativeId);
      case 'Participant':
        return await session().loadParticipant(d.nativeId);
      case 'Attachment':
        // Attachments are reached through their message; no vendor fetches one alone.
        return null;
    }
  } catch (e) {
    if (e instanceof GatewayError && (e.code === ErrorCode.NOT_FOUND || e.code === ErrorCode.FORBIDDEN)) return null;
    throw e;
  }
}

export const unreadOf = async (
  ctx: GatewayContext,
  requested?: readonly string[] | null,
): Promise<UnreadCountModel> => {
  let sources = ctx.visibleSources().filter((c) => c.capabilities.unreadCounts);
  if (requested) sources = sources.filter((c) => requested.includes(c.id));
  const bySource = (
    await Promise.all(
      sources.map((c) => partial<SourceUnreadModel | null>(ctx, null, () => ctx.session(c.id).unreadCount())),
    )
  ).filter((x): x is SourceUnreadModel => x !== null);
  return combineUnread(bySource);
};

export function combineUnread(bySource: SourceUnreadModel[]): UnreadCountModel {
  return {
    total: bySource.reduce((a, s) => a + s.total, 0),
    conversationsWithUnread: bySource.reduce((a, s) => a + s.conversationsWithUnread, 0),
    bySource,
  };
}

export const Query: QueryResolvers = {
  node: (_p, { id }, ctx) => loadNode(ctx, id),
  nodes: (_p, { ids }, ctx) => {
    if (ids.length > 100)
      throw new GatewayError(ErrorCode.BAD_USER_INPUT, `"ids" may hold at most 100 ids, but got ${ids.length}.`, {
        field: 'ids',
      });
    // A failing source nulls only its own positions, each with an error naming it (graphql-js turns an Error
    // list item into a located field error); the other ids still resolve.
    return Promise.all(
      ids.map((id) => loadNode(ctx, id).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))),
    ) as Promise<Array<NodeModel | null>>;
  },
  sources: (_p, _a, ctx) => ctx.visibleSources().map(sourceModel),
  conversations: (_p, args, ctx) => {
    const search = args.filter?.search;
    if (search != null && search.length > MAX_SEARCH_LENGTH)
      throw new GatewayError(
        ErrorCode.BAD_USER_INPUT,
        `"filter.search" may hold at most ${MAX_SEARCH_LENGTH} characters, but got ${search.length}.`,
        { field: 'filter.search', maxLength: MAX_SEARCH_LENGTH },
      );
    const participant = args.filter?.participantId
      ? resolveId(ctx, args.filter.participantId, 'Participant', 'filter.participantId')
      : null;
    return resolveInbox(ctx, {
      first: args.first,
      after: args.after,
      last: args.last,
      before: args.before,
      filter: args.filter
        ? {
            sources: args.filter.sources,
            status: args.filter.status,
            unreadOnly: args.filter.unreadOnly,
            participantId: participant,
            labels: args.filter.labels,
            search: args.filter.search,
          }
        : null,
    });
  },
  conversation: async (_p, { id }, ctx) => {
    const d = resolveId(ctx, id, 'Conversation', 'id');
    const c = await ctx.session(d.sourceId).loadConversation(d.nativeId);
    if (!c) throw notFoundOf('Conversation', d.sourceId);
    return c;
  },
  unreadCount: (_p, { sources }, ctx) => unreadOf(ctx, sources),
};
