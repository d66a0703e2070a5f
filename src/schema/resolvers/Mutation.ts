import { createHash } from 'node:crypto';
import type { MutationResolvers } from '../__generated__/resolvers-types';
import type { MessageModel, StagedFile } from '../../connectors/types';
import { badInput, fileTooLarge, GatewayError, unsupported } from '../../errors';
import type { ThreadEvent } from '../../live/engine';
import type { AmbiguousAttempts, GatewayContext } from '../context';
import { toGlobalId } from '../ids';
import { checkContentType, checkFilename } from './attachmentInput';
import { requireCapability, resolveId } from './shared';

const MAX_CONTENT = 65_536;
const STAGED = 'staged:';

/** After a write: push live updates without delaying the answer. */
function touch(ctx: GatewayContext, sourceId: string, conversationNativeId: string | null) {
  void ctx.services.live.touch(sourceId, conversationNativeId);
}

/**
 * A message the gateway wrote: its thread event (docs/live.md "Thread events"), published before the mutation
 * answers and once across instances (the vendor's webhook echo of it adds nothing). A failure to publish does not
 * fail the write, which succeeded.
 */
async function publishMessage(ctx: GatewayContext, kind: 'MessageAdded' | 'MessageUpdated', msg: MessageModel) {
  await ctx.services.live
    .publishEvents([
      {
        kind,
        sourceId: msg.sourceId,
        conversationNativeId: msg.conversationNativeId,
        message: msg,
        at: (kind === 'MessageAdded' ? msg.sentAt?.getTime() : undefined) ?? Date.now(),
      },
    ])
    .catch(() => undefined);
}

/** A conversation event of the gateway's own write (docs/live.md "Thread events"), published before it answers. */
async function publishConversation(ctx: GatewayContext, event: ThreadEvent) {
  await ctx.services.live.publishEvents([event]).catch(() => undefined);
}

/** What a client is told when the source may have carried out a write whose answer was lost. */
export const AMBIGUOUS_HINT =
  'The source may have carried out this write before the failure. Retry with the same idempotencyKey: the gateway first looks for the result at the source and sends again only when it is not there.';

/** Adds `retryable` and the hint to an error after which the key is held (errors that are not coded stay masked). */
function markHeld(e: unknown): void {
  if (e instanceof GatewayError) Object.assign(e.extensions, { retryable: true, hint: AMBIGUOUS_HINT });
}

/**
 * Runs once per (API key, mutation, idempotency key); a repeat with other input is BAD_USER_INPUT. A failure
 * after which the source may have acted holds the key (issue 12 item 16): the call wrote something that
 * succeeded (a later read failed), or its write failed ambiguously ({@link GatewayError.ambiguous}: a 5xx, a
 * timeout, a reset, an unreadable answer). Then the next call with the key runs `recover` first. Any other
 * failure (refused before sending, a 4xx, the circuit open, the gateway's own caps) releases it, and so does every
 * failure of a mutation without `recover` (holding a key that nothing can look up would only delay the retry).
 */
function idempotent<T>(
  ctx: GatewayContext,
  mutation: string,
  key: string | null | undefined,
  input: unknown,
  fn: () => Promise<T>,
  recover?: (attempts: AmbiguousAttempts) => Promise<T[]>,
): Promise<T> {
  if (!key) return fn();
  if (key.length > 255) throw badInput('"idempotencyKey" must be at most 255 characters.', 'idempotencyKey');
  const fingerprint = createHash('sha256').update(JSON.stringify(input)).digest('hex');
  const scoped = `${ctx.viewer.keyId}\u0000${mutation}\u0000${key}`;
  if (!recover) return ctx.services.idempotency.run(scoped, fingerprint, fn, { signal: ctx.signal });
  const held = new WeakSet<object>();
  const tracked = async () => {
    const from = ctx.upstream.length;
    try {
      return await fn();
    } catch (e) {
      const wrote = ctx.upstream
        .slice(from)
        .some((c) => c.method !== 'GET' && c.status !== null && c.status >= 200 && c.status < 300);
      if (e instanceof Object && (wrote || (e instanceof GatewayError && e.ambiguous === true))) {
        held.add(e);
        markHeld(e);
      }
      throw e;
    }
  };
  return ctx.services.idempotency.run(scoped, fingerprint, tracked, {
    signal: ctx.signal,
    ambiguous: (e) => e instanceof Object && held.has(e),
    // One source object answers one key: a lookup never takes what another key's send created or found.
    resultId: (r) => resultIdOf(mutation, r),
    recover: async (attempts) => {
      try {
        return await recover(attempts);
      } catch (e) {
        markHeld(e); // the lookup failed: the key stays held
        throw e;
      }
    },
  });
}

/** A result's identity at its source, for the store's `resultId` (schema/context.ts). */
function resultIdOf(mutation: string, r: unknown): string {
  const m = r as { sourceId?: unknown; nativeId?: unknown };
  return `${mutation}\u0000${String(m.sourceId)}\u0000${String(m.nativeId)}`;
}

/** Newest messages of the conversation read to find a send whose answer was lost. */
export const LOOKUP_MESSAGES = 20;
/** Slack around the attempts' times for the vendor's clock and its whole-second timestamps. */
export const LOOKUP_CLOCK_SKEW_MS = 30_000;

const normalized = (s: string | null) => (s ?? '').replace(/\r\n/g, '\n').trim();

/**
 * Whether `m` is the message an earlier, ambiguous attempt of this send created: written by the gateway's side
 * (OUTGOING), with the same content, privacy and number of attachments, dated within the attempts' times (with
 * {@link LOOKUP_CLOCK_SKEW_MS} either side).
 */
export function isEarlierAttempt(
  m: MessageModel,
  want: { content: string; private: boolean; attachments: number },
  attempts: AmbiguousAttempts,
): boolean {
  const at = m.sentAt?.getTime();
  return (
    m.direction === 'OUTGOING' &&
    m.private === want.private &&
    m.attachments.length === want.attachments &&
    normalized(m.content) === normalized(want.content) &&
    at !== undefined &&
    !Number.isNaN(at) &&
    at >= attempts.firstStartedAt - LOOKUP_CLOCK_SKEW_MS &&
    at <= attempts.lastFailedAt + LOOKUP_CLOCK_SKEW_MS
  );
}

export const Mutation: MutationResolvers = {
  sendMessage: async (_p, { input }, ctx) => {
    const conv = resolveId(ctx, input.conversationId, 'Conversation', 'input.conversationId');
    const caps = conv.connector.capabilities;
    requireCapability(conv.connector, caps.sendMessage, 'sendMessage');
    if (input.private && !caps.privateMessages) throw unsupported(conv.sourceId, 'private messages');
    if (input.content.length > MAX_CONTENT)
      throw badInput(`"content" must be at most ${MAX_CONTENT} characters.`, 'input.content');
    const attachmentIds = input.attachmentIds ?? [];
    if (attachmentIds.length > 0) requireCapability(conv.connector, caps.attachments, 'attachments');
    if (input.content.trim() === '' && attachmentIds.length === 0) {
      throw badInput('A message needs content or at least one attachment.', 'input.content');
    }
    const attachments = attachmentIds.map((id) => {
      const a = resolveId(ctx, id, 'Attachment', 'input.attachmentIds');
      if (a.sourceId !== conv.sourceId)
        throw badInput("Attachments must belong to the conversation's source.", 'input.attachmentIds');
      return { id, nativeId: a.nativeId };
    });
    const stagedOf = (nativeId: string) =>
      caps.uploadMode === 'INLINE' && nativeId.startsWith(STAGED) ? nativeId.slice(STAGED.length) : null;
    const session = () => ctx.session(conv.sourceId);
    // Inside the idempotent call: a repeat gets the first result before the staged uploads are checked, which the
    // first send consumed (issue 12 item 16).
    const send = async () => {
      const { vendorIds, stagedIds } = checkAttachments(attachments);
      // Staged files are on disk: read back (and held against expiry and other sends) only for the send itself;
      // removed once sent, kept for a retry when the send fails.
      const files: StagedFile[] = stagedIds.length > 0 ? await ctx.services.staging.claim(stagedIds) : [];
      let msg;
      try {
        msg = await session().sendMessage({
          conversationNativeId: conv.nativeId,
          content: input.content,
          private: input.private ?? false,
          attachmentIds: vendorIds,
          files,
        });
      } catch (e) {
        ctx.services.staging.release(stagedIds);
        throw e;
      }
      for (const id of stagedIds) ctx.services.staging.consume(id);
      return msg;
    };
    // After an ambiguous failure: the conversation's newest messages, through the connector's normal read path;
    // the newest match that no other key's send has is the earlier attempt.
    const recover = async (attempts: AmbiguousAttempts) => {
      const page = await session().listMessages(conv.nativeId, { last: LOOKUP_MESSAGES });
      const want = { content: input.content, private: input.private ?? false, attachments: attachments.length };
      return page.items
        .map((i) => i.message)
        .reverse()
        .filter((m) => isEarlierAttempt(m, want, attempts));
    };
    const msg = await idempotent(
      ctx,
      'sendMessage',
      input.idempotencyKey,
      { ...input, idempotencyKey: undefined },
      send,
      recover,
    );
    // A message found at the source was sent with this call's staged files: they are done with too (after a send
    // they are gone already).
    for (const a of attachments) {
      const id = stagedOf(a.nativeId);
      const staged = id === null ? undefined : ctx.services.staging.get(id);
      if (staged && staged.keyId === ctx.viewer.keyId && staged.conversationNativeId === conv.nativeId)
        ctx.services.staging.consume(staged.id);
    }
    await publishMessage(ctx, 'MessageAdded', msg);
    touch(ctx, conv.sourceId, conv.nativeId);
    return msg;

    function checkAttachments(list: Array<{ id: string; nativeId: string }>) {
      const vendorIds: string[] = [];
      const stagedIds: string[] = [];
      for (const { id, nativeId } of list) {
        if (caps.uploadMode !== 'INLINE') {
          vendorIds.push(nativeId);
          continue;
        }
        const stagedId = stagedOf(nativeId);
        const staged = stagedId === null ? undefined : ctx.services.staging.get(stagedId);
        if (!staged || staged.keyId !== ctx.viewer.keyId || staged.conversationNativeId !== conv.nativeId) {
          throw badInput(
            `Attachment ${id} is unknown or expired; create it with createAttachmentUpload.`,
            'input.attachmentIds',
          );
        }
        if (staged.storedBytes === null)
          throw badInput(`Attachment ${id} has not been uploaded yet.`, 'input.attachmentIds');
        if (stagedIds.includes(staged.id)) throw badInput(`Attachment ${id} is listed twice.`, 'input.attachmentIds');
        stagedIds.push(staged.id);
      }
      return { vendorIds, stagedIds };
    }
  },

  createConversation: async (_p, { input }, ctx) => {
    const connector = ctx.connector(resolveSourceArg(ctx, input.sourceId));
    requireCapability(connector, connector.capabilities.createConversation, 'createConversation');
    const participantNativeIds = (input.participantIds ?? []).map((id) => {
      const p = resolveId(ctx, id, 'Participant', 'input.participantIds');
      if (p.sourceId !== connector.id)
        throw badInput('Participants must belong to the source.', 'input.participantIds');
      return p.nativeId;
    });
    const groupNativeId = input.groupId ? resolveId(ctx, input.groupId, 'Participant', 'input.groupId').nativeId : null;
    const conv = await idempotent(
      ctx,
      'createConversation',
      input.idempotencyKey,
      { ...input, idempotencyKey: undefined },
      () =>
        ctx.session(connector.id).createConversation({
          participantNativeIds,
          groupNativeId,
          subject: input.subject,
          inboxId: input.inboxId,
          channel: input.channel,
          content: input.content,
          happenedAt: input.happenedAt,
        }),
    );
    touch(ctx, connector.id, conv.nativeId);
    return conv;
  },

  updateConversation: async (_p, { input }, ctx) => {
    const conv = resolveId(ctx, input.id, 'Conversation', 'input.id');
    const caps = conv.connector.capabilities;
    requireCapability(conv.connector, caps.updateConversation, 'updateConversation');
    if (input.status != null && !caps.settableStatuses.includes(input.status)) {
      throw unsupported(conv.sourceId, `status ${input.status}`);
    }
    if (input.muted != null) requireCapability(conv.connector, caps.mute, 'mute');
    if (input.pinned != null) requireCapability(conv.connector, caps.pin, 'pin');
    if (input.archived != null) requireCapability(conv.connector, caps.archive, 'archive');
    if (input.labels != null) requireCapability(conv.connector, caps.labels, 'labels');
    if (input.subject != null) requireCapability(conv.connector, caps.editableSubject, 'subject');
    const updated = await ctx.session(conv.sourceId).updateConversation(conv.nativeId, {
      status: input.status,
      muted: input.muted,
      pinned: input.pinned,
      archived: input.archived,
      subject: input.subject,
      labels: input.labels,
      happenedAt: input.happenedAt,
    });
    const set = (v: unknown) => v !== null && v !== undefined;
    await publishConversation(ctx, {
      kind: 'ConversationUpdated',
      sourceId: conv.sourceId,
      conversationNativeId: conv.nativeId,
      conversation: updated,
      at: Date.now(),
      changedFields: (
        [
          ['STATUS', input.status],
          ['LABELS', input.labels],
          ['MUTED', input.muted],
          ['PINNED', input.pinned],
          ['ARCHIVED', input.archived],
          ['SUBJECT', input.subject],
        ] as const
      )
        .filter(([, v]) => set(v))
        .map(([f]) => f),
    });
    touch(ctx, conv.sourceId, conv.nativeId);
    return updated;
  },

  deleteConversation: async (_p, { id }, ctx) => {
    const conv = resolveId(ctx, id, 'Conversation', 'id');
    requireCapability(conv.connector, conv.connector.capabilities.deleteConversation, 'deleteConversation');
    await ctx.session(conv.sourceId).deleteConversation(conv.nativeId);
    await publishConversation(ctx, {
      kind: 'ConversationDeleted',
      sourceId: conv.sourceId,
      conversationNativeId: conv.nativeId,
      at: Date.now(),
    });
    touch(ctx, conv.sourceId, null);
    return { id, deleted: true };
  },

  markConversationRead: async (_p, { id }, ctx) => {
    const conv = resolveId(ctx, id, 'Conversation', 'id');
    requireCapability(conv.connector, conv.connector.capabilities.markRead, 'markConversationRead');
    const c = await ctx.session(conv.sourceId).markRead(conv.nativeId);
    await publishConversation(ctx, {
      kind: 'ConversationRead',
      sourceId: conv.sourceId,
      conversationNativeId: conv.nativeId,
      conversation: c,
      at: Date.now(),
    });
    touch(ctx, conv.sourceId, conv.nativeId);
    return c;
  },

  markConversationUnread: async (_p, { id }, ctx) => {
    const conv = resolveId(ctx, id, 'Conversation', 'id');
    requireCapability(conv.connector, conv.connector.capabilities.markUnread, 'markConversationUnread');
    const c = await ctx.session(conv.sourceId).markUnread(conv.nativeId);
    touch(ctx, conv.sourceId, conv.nativeId);
    return c;
  },

  editMessage: async (_p, { input }, ctx) => {
    const m = resolveId(ctx, input.id, 'Message', 'input.id');
    requireCapability(m.connector, m.connector.capabilities.editMessage, 'editMessage');
    if (input.content.length > MAX_CONTENT)
      throw badInput(`"content" must be at most ${MAX_CONTENT} characters.`, 'input.content');
    const msg = await ctx.session(m.sourceId).editMessage(m.nativeId, input.content);
    await publishMessage(ctx, 'MessageUpdated', msg);
    touch(ctx, m.sourceId, msg.conversationNativeId);
    return msg;
  },

  deleteMessage: async (_p, { id }, ctx) => {
    const m = resolveId(ctx, id, 'Message', 'id');
    requireCapability(m.connector, m.connector.capabilities.deleteMessage, 'deleteMessage');
    const session = ctx.session(m.sourceId);
    // docs/live.md "Thread events": the message as it was names its conversation, for MessageDeleted (read through
    // the session's loader, which Protocol's delete reads anyway; one more read on Chatwoot and Monica). Not found
    // or unreadable: the delete goes on and publishes no event (Chatwoot's and Protocol's webhooks still do).
    const known = await session.loadMessage(m.nativeId).catch(() => null);
    await session.deleteMessage(m.nativeId);
    if (known) {
      await publishConversation(ctx, {
        kind: 'MessageDeleted',
        sourceId: m.sourceId,
        conversationNativeId: known.conversationNativeId,
        message: known,
        at: Date.now(),
      });
    }
    touch(ctx, m.sourceId, null);
    return { id, deleted: true };
  },

  createAttachmentUpload: async (_p, { input }, ctx) => {
    const conv = resolveId(ctx, input.conversationId, 'Conversation', 'input.conversationId');
    const caps = conv.connector.capabilities;
    requireCapability(conv.connector, caps.attachments, 'attachments');
    if (!Number.isInteger(input.size) || input.size <= 0)
      throw badInput('"size" must be a positive number of bytes.', 'input.size');
    const maxSize = caps.maxAttachmentSize ?? 0;
    // Refused before any upstream call (issue 6).
    if (input.size > maxSize) throw fileTooLarge(conv.sourceId, input.size, maxSize);
    const filename = checkFilename(input.filename);
    const contentType = checkContentType(input.contentType);
    if (caps.uploadMode === 'SIGNED') {
      return ctx.session(conv.sourceId).createAttachmentUpload({
        conversationNativeId: conv.nativeId,
        filename,
        contentType,
        size: input.size,
      });
    }
    // INLINE: make sure the conversation exists before staging anything for it.
    const exists = await ctx.session(conv.sourceId).loadConversation(conv.nativeId);
    if (!exists) throw badInput('The conversation does not exist.', 'input.conversationId');
    const { upload, token } = ctx.services.staging.create({
      sourceId: conv.sourceId,
      conversationNativeId: conv.nativeId,
      keyId: ctx.viewer.keyId,
      filename,
      contentType,
      size: input.size,
      maxSize,
    });
    return {
      sourceId: conv.sourceId,
      url: `${ctx.publicBaseUrl}/uploads/${upload.id}`,
      method: 'POST',
      fields: [{ name: 'token', value: token }],
      attachmentNativeId: `${STAGED}${upload.id}`,
      expiresAt: upload.expiresAt,
      maxSize: input.size,
    };
  },
};

/** `sourceId` arguments take the Source id as listed in Query.sources (or a Source global id). */
function resolveSourceArg(ctx: GatewayContext, id: string): string {
  if (ctx.viewer.sourceIds.has(id)) return id;
  for (const c of ctx.visibleSources()) if (toGlobalId('Source', c.id, '') === id) return c.id;
  return id; // ctx.connector() turns an unknown or hidden one into NOT_FOUND
}
