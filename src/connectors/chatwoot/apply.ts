import { diffSnapshots, showsLastMessage, type ConversationCatalog } from '../catalog';
import type { ConversationModel, SourceChange } from '../types';

/**
 * How Chatwoot's webhooks reach the catalog (docs/vendors/chatwoot.md "Webhooks"), and how what they miss is
 * repaired.
 *
 * ## One re-read per write, not one per delivery
 * Chatwoot dispatches several deliveries for one write: a status change sends `conversation_status_changed` and
 * `conversation_updated` (Conversation#execute_after_update_commit_callbacks: notify_status_change, then
 * notify_conversation_updation, both from the same save, so both carry the same `updated_at`), and an agent's
 * reopen adds another `conversation_updated` for the self-assignment. Each conversation event carries its
 * conversation's `updated_at` (a float that every save moves); once the catalog holds a read of the conversation
 * at least that new, the event has nothing to add and is not re-read. So one status change costs one re-read
 * however many deliveries it sends, a delivery that arrives after a newer one (Chatwoot's webhook jobs run in
 * parallel) costs none, and neither does the webhook of a write the gateway made itself (its own re-read is in
 * the catalog already). Message events are re-read: `last_activity_at` is written with `update_columns` after the
 * touch that moves `updated_at`, so `updated_at` alone cannot prove a read saw the message's effects. Except the
 * echo of a message the catalog already shows: a `message_created` whose message is the catalog's last message, at
 * least as recent as its `created_at`, has nothing to add (issue 13 target 2). That is the webhook of the gateway's
 * own send, whose answer patched the catalog (session.ts: Message#set_conversation_activity makes the message's
 * `created_at` the conversation's `last_activity_at`; an outgoing message leaves the unread count, which counts
 * incoming messages after `agent_last_seen_at`, as it is), or a message a later read already saw. Before that
 * check the apply waits for this process's sends to the conversation still in flight (ConversationCatalog.track), so
 * an echo that overtakes its own answer is not re-read either; on another instance it is (the catalog is shared
 * through Redis, so once the answer was applied the check holds there too).
 *
 * The live engine batches changes per source and keeps one change per conversation, so what one delivery said
 * could be lost to a later one of the same batch; the connector therefore records, per conversation, the newest
 * `updated_at` and whether a message event came ({@link WebhookVersions}), at parse time, and decides at apply time.
 *
 * ## Repair of what never arrived
 * Chatwoot sends each webhook once (no retries). A delivery the gateway never got (down, restarting, a network
 * failure) or could not apply (its own error, Redis down) must not leave the catalog wrong for good:
 * {@link reconcileCatalog} re-syncs the catalog when it is older than `catalogMaxAgeMs` and reports every
 * conversation that differs, so that the live engine re-reads the totals and tells `conversationChanged`
 * subscribers. The connector's `poll` runs it while anybody subscribes (so a repair happens within
 * catalogMaxAgeMs + the poll interval even when nobody reads), and every read runs the same sync when the catalog
 * is stale. Its cost is one full sync per catalogMaxAgeMs per source, whatever the number of subscribers or
 * instances (the catalog and its sync lease are shared through Redis).
 */

/**
 * Per conversation: the newest `updated_at` a conversation event reported, whether a message event came that must be
 * re-read, and the messages `message_created` events named (native id → `created_at` in epoch ms, or null).
 */
interface Seen {
  updatedAt: number;
  message: boolean;
  created: Map<string, number | null>;
}

/** What one delivery says about its conversation (webhook.ts `ChatwootWebhookConfig.observe`). */
export interface WebhookObservation {
  conversationNativeId: string;
  /** The conversation's `updated_at` (epoch ms; conversation events), or null. */
  updatedAt: number | null;
  /** A message event. */
  message: boolean;
  /** `message_created`: the message it names, so that the echo of the gateway's own send is not re-read. */
  created?: { messageNativeId: string; sentAt: number | null };
}

/** What the webhook parser saw per conversation since its last apply (bounded: {@link MAX_TRACKED}). */
export class WebhookVersions {
  private readonly seen = new Map<string, Seen>();

  observe(o: WebhookObservation): void {
    if (this.seen.size >= MAX_TRACKED && !this.seen.has(o.conversationNativeId)) this.seen.clear();
    const cur = this.seen.get(o.conversationNativeId) ?? { updatedAt: 0, message: false, created: new Map() };
    cur.updatedAt = Math.max(cur.updatedAt, o.updatedAt ?? 0);
    if (o.created) cur.created.set(o.created.messageNativeId, o.created.sentAt);
    else cur.message ||= o.message || o.updatedAt === null;
    this.seen.set(o.conversationNativeId, cur);
  }

  /** What was seen about a conversation, forgotten from now on (it is being applied). */
  take(nativeId: string): Seen | undefined {
    const s = this.seen.get(nativeId);
    this.seen.delete(nativeId);
    return s;
  }
}

/** Conversations tracked at most; past it the record starts over (the cost is a few extra re-reads). */
const MAX_TRACKED = 10_000;

/**
 * The connector's `applyChanges`: drops the changes whose conversation the catalog already holds at least as new
 * as every conversation event reported (and for which no message event came), then lets the catalog re-read the
 * rest (`refresh`) or invalidate itself for a change without a conversation.
 */
export async function applyChatwootChanges(
  catalog: ConversationCatalog,
  versions: WebhookVersions,
  changes: SourceChange[],
  refresh: (nativeId: string) => Promise<void>,
  concurrency: number,
): Promise<void> {
  const named = changes.filter((c) => c.conversationNativeId !== null);
  const seen = new Map(
    named.map((c) => [c.conversationNativeId as string, versions.take(c.conversationNativeId as string)]),
  );
  const checkable = [...seen].filter(([, s]) => s && !s.message && (s.updatedAt > 0 || s.created.size > 0));
  let needed = changes;
  if (checkable.length > 0) {
    // A send of this process may still be patching the catalog from its answer when its echo arrives: wait for it.
    await catalog.writesSettled(checkable.filter(([, s]) => s && s.created.size > 0).map(([id]) => id));
    const held = new Map(await Promise.all(checkable.map(async ([id]) => [id, await catalog.peekOne(id)] as const)));
    needed = changes.filter((c) => {
      if (c.conversationNativeId === null) return true;
      const s = seen.get(c.conversationNativeId);
      const have = held.get(c.conversationNativeId);
      if (!s || s.message || !have) return true;
      if (s.updatedAt > 0 && (have.updatedAt?.getTime() ?? 0) < s.updatedAt) return true;
      for (const [message, sentAt] of s.created) if (!showsLastMessage(have, message, sentAt)) return true;
      return false;
    });
  }
  if (needed.length === 0) return;
  await catalog.applyChanges(needed, refresh, concurrency);
}

/** What makes a conversation differ for subscribers and for the inbox (and for a read check, poll.ts). */
export function chatwootFingerprint(c: ConversationModel): string {
  return JSON.stringify([
    c.unreadCount ?? null,
    c.status,
    c.muted,
    c.labels,
    c.lastMessageAt?.getTime() ?? null,
    c.lastMessage?.nativeId ?? null,
    c.lastMessage?.content ?? null,
    c.updatedAt?.getTime() ?? null,
    (c.participants ?? []).map((p) => p.nativeId),
  ]);
}

/** Conversations that differ between two catalog snapshots (appeared, changed or gone). Pure. */
export function diffCatalog(sourceId: string, before: ConversationModel[], after: ConversationModel[]): SourceChange[] {
  return diffSnapshots(sourceId, before, after, chatwootFingerprint);
}

/**
 * The repair of missed webhooks: when the catalog is older than its `maxAgeMs`, a full re-sync (`resync`, the
 * source's CatalogSync) and the conversations that differ from the snapshot before it. Nothing (no request) while the
 * catalog is fresh or before its first sync (the first read syncs it).
 */
export async function reconcileCatalog(
  sourceId: string,
  catalog: ConversationCatalog,
  resync: () => Promise<{ before: ConversationModel[] | null; after: ConversationModel[] }>,
): Promise<SourceChange[]> {
  const age = await catalog.age();
  if (age === null || age < catalog.maxAgeMs) return [];
  const { before, after } = await resync();
  return before ? diffCatalog(sourceId, before, after) : [];
}
