import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import type {
  AttachmentResolvers,
  ConversationConnectionResolvers,
  ConversationResolvers,
  MessageConnectionResolvers,
  MessageResolvers,
  NodeResolvers,
  ParticipantResolvers,
  SourceResolvers,
  SourceUnreadCountResolvers,
  AttachmentUploadResolvers,
} from '../__generated__/resolvers-types';
import { connectionFields } from '../mappers';
import type { ConversationModel, MessageModel } from '../../connectors/types';
import { toGlobalId } from '../ids';
import { checkPageArgs } from '../inbox';
import { badInput, ErrorCode, GatewayError } from '../../errors';
import { sourceModel } from './shared';

/** DateTime: ISO-8601 in UTC (`toISOString`), parsed from any ISO-8601 string with a zone. */
export const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize(value) {
    const d =
      value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : null;
    if (!d || Number.isNaN(d.getTime())) throw new GraphQLError('DateTime cannot represent an invalid date.');
    return d.toISOString();
  },
  parseValue(value) {
    if (typeof value !== 'string')
      throw new GraphQLError(`DateTime expects an ISO-8601 string, but got ${typeof value}.`);
    return parseIso(value);
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new GraphQLError(`DateTime expects an ISO-8601 string, but got ${ast.kind}.`);
    return parseIso(ast.value);
  },
});

function parseIso(s: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(s)) {
    throw new GraphQLError(
      `DateTime expects an ISO-8601 date-time such as 2025-08-07T10:30:00Z, but got "${s.slice(0, 40)}".`,
    );
  }
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new GraphQLError(`DateTime got an impossible date "${s.slice(0, 40)}".`);
  return d;
}

export const Node: NodeResolvers = {
  __resolveType(parent) {
    if ('capabilities' in parent) return 'Source';
    if ('labels' in parent) return 'Conversation';
    if ('direction' in parent) return 'Message';
    if ('kind' in parent) return 'Participant';
    return 'Attachment';
  },
};

export const Source: SourceResolvers = {
  id: (s) => s.id,
  health: (s, _a, ctx) => ctx.connector(s.id).health(),
};

export const SourceUnreadCount: SourceUnreadCountResolvers = {
  source: (u, _a, ctx) => sourceModel(ctx.connector(u.sourceId)),
};

export const Conversation: ConversationResolvers = {
  id: (c) => toGlobalId('Conversation', c.sourceId, c.nativeId),
  source: (c, _a, ctx) => sourceModel(ctx.connector(c.sourceId)),
  // Answered synchronously when the list payload (or catalog) embedded the value: graphql-js then completes the
  // row without a promise per field, which is most of an inbox page's execution cost (issue 7's profile).
  participants: (c, _a, ctx) => c.participants ?? ctx.session(c.sourceId).loadParticipants(c),
  lastMessage: (c, _a, ctx) =>
    c.lastMessage !== undefined ? c.lastMessage : ctx.session(c.sourceId).loadLastMessage(c),
  unreadCount: (c, _a, ctx) => {
    if (c.unreadCount !== undefined) return c.unreadCount;
    const s = ctx.session(c.sourceId);
    return s.loadUnreadCount ? s.loadUnreadCount(c) : null;
  },
  messages: async (c, args, ctx) => {
    checkPageArgs(args, 'Conversation.messages');
    const unwrap = (cursor: string | null | undefined, field: string) => {
      if (cursor == null) return cursor;
      const raw = Buffer.from(cursor, 'base64url').toString('utf8');
      const prefix = `${c.sourceId}|${c.nativeId}|`;
      if (!raw.startsWith(prefix)) throw badInput(`"${field}" is not a cursor of this conversation's messages.`, field);
      return raw.slice(prefix.length);
    };
    // Chat views want the newest messages: with neither first nor last, the newest 20.
    const noSize = args.first == null && args.last == null;
    const page = await ctx.session(c.sourceId).listMessages(c.nativeId, {
      first: args.first,
      last: noSize && args.after == null ? 20 : args.last,
      after: unwrap(args.after, 'after'),
      before: unwrap(args.before, 'before'),
      ...(noSize && args.after != null ? { first: 20 } : {}),
    });
    return {
      edges: page.items.map((i) => ({
        cursor: Buffer.from(`${c.sourceId}|${c.nativeId}|${i.cursor}`, 'utf8').toString('base64url'),
        node: i.message,
      })),
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.hasPreviousPage,
      totalCount: page.totalCount,
    };
  },
};

export const ConversationConnection: ConversationConnectionResolvers = connectionFields<ConversationModel>();

export const MessageConnection: MessageConnectionResolvers = connectionFields<MessageModel>();

export const Message: MessageResolvers = {
  id: (m) => toGlobalId('Message', m.sourceId, m.nativeId),
  conversation: async (m, _a, ctx) => {
    const c = await ctx.session(m.sourceId).loadConversation(m.conversationNativeId);
    if (!c) throw new GatewayError(ErrorCode.NOT_FOUND, 'Conversation not found.', { source: m.sourceId });
    return c;
  },
  sender: (m, _a, ctx) => {
    if (m.sender) return m.sender;
    return m.senderRef ? ctx.session(m.sourceId).loadParticipant(m.senderRef) : null;
  },
};

export const Participant: ParticipantResolvers = {
  id: (p) => toGlobalId('Participant', p.sourceId, p.nativeId),
};

export const Attachment: AttachmentResolvers = {
  id: (a) => toGlobalId('Attachment', a.sourceId, a.nativeId),
};

export const AttachmentUpload: AttachmentUploadResolvers = {
  attachmentId: (u) => toGlobalId('Attachment', u.sourceId, u.attachmentNativeId),
};
