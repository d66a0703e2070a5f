import type { Request, Response } from 'express';
import { serveEmulator, type EmulatorHandle, type EmulatorStartOptions } from '../kit/server';
import { createRoutes, postWebhook, sendError } from './routes';
import { seedProtocol } from './seed';
import { nowEpoch, ProtocolState, type PrConversation, type PrMessage } from './state';

/**
 * Emulator of the "Protocol" chat API as CityPay publishes it (seed 001, docs/vendors/protocol.md), under `/v1`, plus the
 * attachment files at `/files/:id/:name` (the vendor serves them from its asset host).
 */

/** The Bearer token the embedded default authenticates with. */
export const PROTOCOL_SANDBOX_TOKEN = 'sandbox-protocol-token';
/** The secret webhooks are signed with (`x-protocol-signature`). */
export const PROTOCOL_SANDBOX_WEBHOOK_SECRET = 'sandbox-protocol-webhook-secret';
/** The contact that is the API user: outgoing messages are this contact's. */
export const PROTOCOL_SANDBOX_SELF_CONTACT_ID = 'SwitchboardSelf0';
/** The vendor documents no rate limit (docs/vendors/protocol.md); ours, per token and sliding minute. */
export const PROTOCOL_RATE_LIMIT_PER_MINUTE = 1200;
/** Largest attachment (bytes); the connector's PROTOCOL_MAX_ATTACHMENT_SIZE says the same. */
export const PROTOCOL_SANDBOX_MAX_ATTACHMENT_SIZE = 25 * 1024 * 1024;

const SIMULATED_LINES = [
  'Hey, are you around?',
  'Quick question about tomorrow.',
  'Look at this! 👀',
  'Call me when you can.',
];

/** Protocol's own emulator options: behaviours no document settles (docs/vendors/protocol.md "Assumptions"). */
export interface ProtocolEmulatorOptions {
  /** Also take JSON bodies (undocumented). @default false: 415 invalid_request */
  acceptJson?: boolean;
  /** How a form body clears a field: `archived_at=` (`empty`), `archived_at=null` (`null`) or not at all (`never`). @default 'empty' */
  clearWith?: 'empty' | 'null' | 'never';
  /** The order of every list (undocumented). @default 'newest_first' */
  listOrder?: 'newest_first' | 'oldest_first';
  /**
   * How messages name attachments (undocumented): `attachments[]=<id>`, or `attachments[0][id]=<id>` refusing ids
   * (`objects`) or silently dropping them (`objects_ignoring_ids`). @default 'ids'
   */
  attachmentsAs?: 'ids' | 'objects' | 'objects_ignoring_ids';
}

export async function startProtocolEmulator(
  opts: EmulatorStartOptions & ProtocolEmulatorOptions = {},
): Promise<EmulatorHandle> {
  const state = new ProtocolState(PROTOCOL_SANDBOX_SELF_CONTACT_ID, seedProtocol, opts.scale ?? 1, opts.seed ?? 1);
  return serveEmulator(
    'protocol',
    (app, self) => {
      const emit = (type: string, payload: unknown) => {
        const target = opts.webhook?.();
        if (!target) return;
        postWebhook(target.url, target.secret ?? PROTOCOL_SANDBOX_WEBHOOK_SECRET, state.newId(), type, payload);
      };
      const { router, resetLimiter, messageJson, conversationJson } = createRoutes({
        state,
        token: PROTOCOL_SANDBOX_TOKEN,
        baseUrl: () => self().url,
        rateLimitPerMinute: opts.rateLimitPerMinute ?? PROTOCOL_RATE_LIMIT_PER_MINUTE,
        maxAttachmentSize: PROTOCOL_SANDBOX_MAX_ATTACHMENT_SIZE,
        emit,
        acceptJson: opts.acceptJson,
        clearWith: opts.clearWith,
        listOrder: opts.listOrder,
        attachmentsAs: opts.attachmentsAs,
      });
      app.use('/v1', router);
      // The asset host's files: public, as `file_url`s are handed to apps.
      app.get('/files/:id/:name', (req: Request<{ id: string; name: string }>, res: Response) => {
        const a = state.attachments.get(req.params.id);
        if (!a) {
          sendError(res, 404, 'invalid_request', `No such file: ${req.params.id}.`);
          return;
        }
        res.type(a.file_type).send(a.data);
      });

      const noSuch = (id: string) => ({ type: 'invalid_request', message: `No such conversation: ${id}.` });

      return {
        reset: () => {
          state.reset();
          resetLimiter();
        },
        simulateIncoming: ({ conversationId, content }) => {
          let conv: PrConversation | undefined;
          if (conversationId) conv = state.conversations.get(conversationId);
          else {
            const open = state.conversationList().filter((c) => c.archived_at === null);
            conv = open.length > 0 ? state.rnd.pick(open) : undefined;
          }
          if (!conv) return noSuch(conversationId ?? '(any)');
          const group = conv.group_id ? state.groups.get(conv.group_id) : undefined;
          const candidates = group ? group.contact_ids : conv.contact_id ? [conv.contact_id] : [];
          const senderId = candidates.length > 0 ? state.rnd.pick(candidates) : null;
          if (!senderId) return { type: 'invalid_request', message: 'The conversation has no other contact.' };
          // Epoch seconds: a message in the same second as the last open would not count as unread (created_at >
          // last_opened_at), so the emulator stamps it one second later, as if it arrived just after.
          const at = Math.max(nowEpoch(), (conv.last_opened_at ?? 0) + 1, conv.last_active_at ?? 0);
          const m: PrMessage = {
            id: state.newId(),
            conversation_id: conv.id,
            contact_id: senderId,
            message: content ?? state.rnd.pick(SIMULATED_LINES),
            reactions: [],
            attachment_ids: [],
            read_at: null,
            created_at: at,
            updated_at: null,
          };
          state.addMessage(m);
          const json = messageJson(m);
          emit('message.created', json);
          return json;
        },
        simulateRead: ({ conversationId }) => {
          const conv = state.conversations.get(conversationId);
          if (!conv) return noSuch(conversationId);
          state.markRead(conv, Math.max(nowEpoch(), conv.last_active_at ?? 0));
          const json = conversationJson(conv);
          emit('conversation.updated', json);
          return json;
        },
        unreadState: () => {
          let total = 0;
          let withUnread = 0;
          for (const c of state.conversations.values()) {
            const n = state.unreadOf(c);
            total += n;
            if (n > 0) withUnread++;
          }
          return { total, conversationsWithUnread: withUnread };
        },
      };
    },
    opts,
  );
}
