import { createHash } from 'node:crypto';
import type { ConversationField, ConversationModel, MessageModel, ThreadEventChange } from '../connectors/types';
import type { LiveContext } from './context';
import type { LoggedEvent as Logged, MemoryEventLog } from './eventLog';
import { EVENT_TTL_MS, eventsTopic, threadEventKey } from './protocol';

/**
 * docs/live.md "Thread events": the typed events of conversations (`conversationEvents`), their topic, the log
 * they are replayed from and their cursors.
 */
export type ThreadEventKind = ThreadEvent['kind'];

export type { ConversationField } from '../connectors/types';

/** One thread event, as published on `events:<source>` (JSON: dates travel as ISO strings). */
export type ThreadEvent = {
  sourceId: string;
  conversationNativeId: string;
  /** When it happened (epoch ms). */
  at: number;
} & (
  | { kind: 'MessageAdded' | 'MessageUpdated' | 'MessageDeleted'; message: MessageModel }
  | { kind: 'ConversationRead'; conversation: ConversationModel }
  | { kind: 'ConversationUpdated'; conversation: ConversationModel; changedFields: ConversationField[] }
  | { kind: 'ConversationDeleted' }
);

type LoggedEvent = Logged<ThreadEvent>;

/** What a subscriber gets: an event of the log, or the notice that some cannot be replayed; each with its cursor. */
export type DeliveredEvent =
  | { kind: ThreadEventKind; event: ThreadEvent; at: number; cursor: string }
  | { kind: 'ResyncRequired'; reason: string; at: number; cursor: string };

/**
 * docs/live.md "Thread events": a message event is published once per (source, kind, message, version) across
 * instances, for a day, so the vendor's echo of the gateway's own write adds nothing. Conversation events come
 * from the gateway's own writes only (no echo to drop): null, each is published.
 */
export function eventIdentity(e: ThreadEvent): string | null {
  if (e.kind !== 'MessageAdded' && e.kind !== 'MessageUpdated' && e.kind !== 'MessageDeleted') return null;
  const version =
    e.kind !== 'MessageUpdated'
      ? ''
      : createHash('sha256')
          .update(e.message.content ?? '')
          .digest('hex')
          .slice(0, 16);
  return `${e.kind}:${e.message.nativeId}:${version}`;
}

const date = (v: unknown): Date | null => {
  if (v === null || v === undefined) return null;
  const d = v instanceof Date ? v : new Date(v as string);
  return Number.isNaN(d.getTime()) ? null : d;
};

const KINDS = new Set<string>([
  'MessageAdded',
  'MessageUpdated',
  'MessageDeleted',
  'ConversationRead',
  'ConversationUpdated',
  'ConversationDeleted',
]);

const reviveMessage = (m: MessageModel): MessageModel => ({ ...m, sentAt: date(m.sentAt), readAt: date(m.readAt) });

const reviveConversation = (c: ConversationModel): ConversationModel => ({
  ...c,
  createdAt: date(c.createdAt),
  updatedAt: date(c.updatedAt),
  lastMessageAt: date(c.lastMessageAt),
  ...(c.lastMessage ? { lastMessage: reviveMessage(c.lastMessage) } : {}),
});

/** A payload of `events:<source>` (dates revived), or null for one this version does not understand. */
export function fromWire(sourceId: string, p: unknown): ThreadEvent | null {
  const o = p as (Partial<ThreadEvent> & Record<string, unknown>) | null;
  if (
    !o ||
    typeof o.kind !== 'string' ||
    !KINDS.has(o.kind) ||
    o.sourceId !== sourceId ||
    typeof o.conversationNativeId !== 'string' ||
    typeof o.at !== 'number'
  )
    return null;
  const e = o as ThreadEvent;
  switch (e.kind) {
    case 'MessageAdded':
    case 'MessageUpdated':
    case 'MessageDeleted':
      return typeof e.message?.nativeId === 'string' ? { ...e, message: reviveMessage(e.message) } : null;
    case 'ConversationRead':
    case 'ConversationUpdated':
      return typeof e.conversation?.nativeId === 'string'
        ? { ...e, conversation: reviveConversation(e.conversation) }
        : null;
    default:
      return e;
  }
}

/** What travels on the topic: a conversation without its search text (never exposed, and possibly long). */
function toWire(e: ThreadEvent): ThreadEvent {
  if (e.kind !== 'ConversationRead' && e.kind !== 'ConversationUpdated') return e;
  const { searchText: _omit, ...conversation } = e.conversation;
  return { ...e, conversation };
}

/** docs/live.md "Cursors": the log's epoch and, per source, the last position the subscriber was given. */
interface CursorState {
  e: string;
  p: Record<string, number>;
}

export const encodeCursor = (c: CursorState) => Buffer.from(JSON.stringify(c)).toString('base64url');

export function decodeCursor(cursor: string): CursorState | null {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorState> | null;
    if (!c || typeof c.e !== 'string' || typeof c.p !== 'object' || c.p === null) return null;
    if (!Object.values(c.p).every((n) => Number.isInteger(n) && (n as number) >= 0)) return null;
    return c as CursorState;
  } catch {
    return null;
  }
}

/**
 * The engine's part for thread events: one subscription to `events:<source>` per source for the engine's whole
 * life (so the log covers the time nobody here listens), each event appended to the log and handed to this
 * instance's listeners of the source; publication once per event identity across instances.
 */
export class ThreadEvents {
  readonly ready: Promise<Array<() => Promise<void>>>;
  private readonly listeners = new Map<string, Set<(e: LoggedEvent) => void>>();

  constructor(
    private readonly ctx: LiveContext,
    sourceIds: string[],
    private readonly log: MemoryEventLog<ThreadEvent>,
  ) {
    this.ready = Promise.all(sourceIds.map((s) => ctx.pubsub.subscribe(eventsTopic(s), (p) => this.onMessage(s, p))));
    this.ready.catch((e: unknown) => sourceIds.forEach((s) => ctx.report(e, s)));
  }

  /** Publishes each event whose identity no instance published before (the gateway's send, then its echo: once). */
  async publish(events: ThreadEvent[]): Promise<void> {
    if (events.length === 0) return;
    const identities = events.map((e) => eventIdentity(e));
    const keyed = identities.flatMap((id, i) => (id === null ? [] : [threadEventKey(events[i]!.sourceId, id)]));
    const claimed = keyed.length > 0 ? await this.ctx.coordination.firstSeen(keyed, EVENT_TTL_MS) : [];
    let k = 0;
    // One after the other: events of one source reach the topic in the order given.
    for (const [i, e] of events.entries()) {
      if (identities[i] !== null && !claimed[k++]) continue;
      await this.ctx.pubsub.publish(eventsTopic(e.sourceId), toWire(e));
    }
  }

  /**
   * docs/live.md "Cursors": calls `onEvent` with every event after `after` (in order, before this returns), then
   * with each live one; or first with ResyncRequired when some cannot be replayed. Replay and joining happen in
   * one synchronous step, so nothing falls between them or comes twice. Returns the function that stops it.
   */
  watch(sourceIds: string[], after: string | null, onEvent: (e: DeliveredEvent) => void): () => void {
    const positions: Record<string, number> = {};
    for (const s of sourceIds) positions[s] = this.log.head(s);
    const cursor = () => encodeCursor({ e: this.log.epoch, p: { ...positions } });
    const replay: Array<{ sourceId: string; entry: LoggedEvent }> = [];
    let gap: string | null = null;
    if (after !== null) {
      const c = decodeCursor(after);
      if (!c) gap = 'INVALID_CURSOR';
      else {
        for (const s of sourceIds) {
          const from = c.p[s];
          // A source the cursor does not name was not watched then: nothing of it was missed.
          if (from === undefined) continue;
          const r = c.e === this.log.epoch ? this.log.since(s, from) : { gap: 'UNKNOWN_CURSOR' as const };
          if ('gap' in r) gap ??= r.gap;
          else for (const entry of r.events) replay.push({ sourceId: s, entry });
        }
      }
    }
    const deliver = (s: string, entry: LoggedEvent) => {
      positions[s] = entry.seq;
      onEvent({ kind: entry.event.kind, event: entry.event, at: entry.event.at, cursor: cursor() });
    };
    if (gap !== null) onEvent({ kind: 'ResyncRequired', reason: gap, at: Date.now(), cursor: cursor() });
    else {
      // A cursor given mid-replay must not skip what the rest of the replay holds: each source starts where it was.
      for (const r of replay) positions[r.sourceId] = Math.min(positions[r.sourceId]!, r.entry.seq - 1);
      for (const r of replay) deliver(r.sourceId, r.entry);
    }
    const joined = sourceIds.map((s) => {
      const listener = (entry: LoggedEvent) => deliver(s, entry);
      let set = this.listeners.get(s);
      if (!set) this.listeners.set(s, (set = new Set()));
      set.add(listener);
      return () => set.delete(listener);
    });
    return () => joined.forEach((leave) => leave());
  }

  private onMessage(sourceId: string, payload: unknown) {
    const event = fromWire(sourceId, payload);
    if (!event) return;
    const entry = this.log.append(sourceId, event);
    for (const l of [...(this.listeners.get(sourceId) ?? [])]) l(entry);
  }

  async close(): Promise<Array<() => Promise<void>>> {
    this.listeners.clear();
    return this.ready.catch(() => []);
  }
}

/** The thread event a webhook parser or a poll attached to a change (connectors/types.ts `SourceChange.events`). */
export function eventsOfChange(sourceId: string, e: ThreadEventChange): ThreadEvent {
  switch (e.kind) {
    case 'MessageAdded':
    case 'MessageUpdated':
    case 'MessageDeleted':
      return {
        kind: e.kind,
        sourceId,
        conversationNativeId: e.message.conversationNativeId,
        message: e.message,
        at: e.at,
      };
    case 'ConversationRead':
      return {
        kind: e.kind,
        sourceId,
        conversationNativeId: e.conversation.nativeId,
        conversation: e.conversation,
        at: e.at,
      };
    case 'ConversationUpdated':
      return {
        kind: e.kind,
        sourceId,
        conversationNativeId: e.conversation.nativeId,
        conversation: e.conversation,
        changedFields: e.changedFields,
        at: e.at,
      };
    case 'ConversationDeleted':
      return { kind: e.kind, sourceId, conversationNativeId: e.conversationNativeId, at: e.at };
  }
}
