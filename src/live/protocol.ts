import type { SourceUnreadModel } from '../connectors/types';

/**
 * The live protocol's names and messages, as docs/live.md defines them: topic and lease names, the payload of
 * each topic with its validator, and the times the protocol fixes. Every part of the live engine takes its names
 * from here, and a change here is a change of docs/live.md (and of what instances of different versions
 * sharing one Redis understand of each other).
 */

/** docs/live.md "Topics": the new full unread totals of a source. */
export const unreadTopic = (sourceId: string) => `unread:${sourceId}`;

/** docs/live.md "Topics": one conversation of a source may have changed. */
export const conversationTopic = (sourceId: string) => `conversation:${sourceId}`;

/** docs/live.md "Thread events": typed events of a source's conversations (messages added, updated). */
export const eventsTopic = (sourceId: string) => `events:${sourceId}`;

/** docs/live.md "Thread events": the seen-key that lets one thread event through once (the gateway's send and its echo). */
export const threadEventKey = (sourceId: string, identity: string) => `${sourceId}:thread:${identity}`;

/** docs/live.md "Leases": the lease of a source's poller. */
export const pollLease = (sourceId: string) => `poll:${sourceId}`;

/** docs/live.md "Webhook ingest": the seen-key of a webhook event id. */
export const eventKey = (sourceId: string, eventId: string) => `${sourceId}:${eventId}`;

/** docs/live.md "Webhook ingest": the seen-key of a webhook delivery's own identity (delivery id, signature). */
export const deliveryKey = (sourceId: string, key: string) => `${sourceId}:delivery:${key}`;

/** docs/live.md "Topics": the payload of `unread:<source>`. */
export interface UnreadMessage extends SourceUnreadModel {
  /** When the read that produced these totals started (epoch ms, on the shared clock). */
  asOf: number;
}

/** docs/live.md "Topics": the payload of `conversation:<source>`. */
export interface ConversationMessage {
  sourceId: string;
  conversationNativeId: string;
}

/** A payload of `unread:<source>` (`asOf` may be missing: receivers read it as 0). */
export function isUnreadMessage(p: unknown): p is UnreadMessage {
  const o = p as Partial<UnreadMessage> | null;
  return (
    !!o &&
    typeof o.sourceId === 'string' &&
    typeof o.total === 'number' &&
    typeof o.conversationsWithUnread === 'number'
  );
}

/** A payload of `conversation:<source>`. */
export function isConversationMessage(p: unknown): p is ConversationMessage {
  const o = p as { sourceId?: unknown; conversationNativeId?: unknown } | null;
  return !!o && typeof o.sourceId === 'string' && typeof o.conversationNativeId === 'string';
}

/** docs/live.md "Webhook ingest": webhook event ids are remembered this long (vendors retry within hours). */
export const EVENT_TTL_MS = 86_400_000;

/** docs/live.md "Leases": the shortest default lease (it must survive a slow Redis round trip or a GC pause). */
export const MIN_DEFAULT_LEASE_MS = 5_000;
