import { createHash } from 'node:crypto';
import type { ConversationField, ConversationModel, MessageModel, ThreadEventChange } from '../connectors/types';
import type { LiveContext } from './context';
import type { EventLog, FeedEntry, LogReplay, Position } from './eventLog';
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
  | {
      kind: 'ConversationUpdated';
      conversation: ConversationModel;
      changedFields: ConversationField[];
      /**
       * A `PEOPLE` change (a manual link or unlink): every source whose participants the people before it held.
       * Subscribers whose API key does not see all of them are not told (README "People": a key learns nothing of
       * sources it cannot see, not even that a link reached one).
       */
      peopleSources?: string[];
    }
  | { kind: 'ConversationDeleted' }
);

type Entry = FeedEntry<ThreadEvent>;

/**
 * What a subscriber gets: an event of the log, or the notice that some cannot be replayed; each with its cursor.
 * `replayed`: delivered from the log for a cursor (`after`), not live.
 */
export type DeliveredEvent =
  | { kind: ThreadEventKind; event: ThreadEvent; at: number; cursor: string; replayed?: boolean }
  | { kind: 'ResyncRequired'; reason: string; at: number; cursor: string };

/**
 * docs/live.md "Thread events" ("Once each"): the identity under which an event is published once across instances
 * (for `EVENT_TTL_MS`), or null for one that is published every time.
 * - A message event: (kind, message, version), version a digest of the content for MessageUpdated, so the vendor's
 *   echo of the gateway's own write adds nothing.
 * - ConversationUpdated: (conversation, the vendor's `updatedAt`, a digest of the values `ConversationField` names).
 *   The gateway's write answers with the conversation as re-read after it, so the vendor's webhook of that same save
 *   (Chatwoot's conversation_status_changed and conversation_updated both carry it) has the same identity; a later
 *   real change moves `updatedAt`, so a change back and forth is each published. Without `updatedAt` (Protocol has
 *   none) null: each is published (no webhook of such a source makes one).
 * - ConversationDeleted: (conversation): a conversation is deleted once (the gateway's delete and Protocol's
 *   conversation.deleted webhook are one event).
 * - ConversationRead: null (no vendor webhook reports a read: docs/vendors/chatwoot.md "Unread semantics").
 * - ConversationUpdated naming PEOPLE (a link or unlink): null, each is published.
 */
export function eventIdentity(e: ThreadEvent): string | null {
  switch (e.kind) {
    case 'MessageAdded':
    case 'MessageDeleted':
      return `${e.kind}:${e.message.nativeId}:`;
    case 'MessageUpdated':
      return `${e.kind}:${e.message.nativeId}:${createHash('sha256')
        .update(e.message.content ?? '')
        .digest('hex')
        .slice(0, 16)}`;
    case 'ConversationUpdated': {
      // PEOPLE (a manual link or unlink, src/schema/resolvers/Person.ts) changes nothing of the conversation's own
      // fields or updatedAt and no webhook echoes it: null, each is published (a link after an unlink too).
      if (e.changedFields.includes('PEOPLE')) return null;
      const c = e.conversation;
      const updatedAt = c.updatedAt === null ? null : new Date(c.updatedAt).getTime();
      if (updatedAt === null || Number.isNaN(updatedAt)) return null;
      const values = [c.status, [...c.labels].sort(), c.muted, c.pinned, c.archived, c.subject];
      const digest = createHash('sha256').update(JSON.stringify(values)).digest('hex').slice(0, 16);
      return `${e.kind}:${e.conversationNativeId}:${updatedAt}:${digest}`;
    }
    case 'ConversationDeleted':
      return `${e.kind}:${e.conversationNativeId}:`;
    default:
      return null;
  }
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

/**
 * docs/live.md "Cursors": the log's epoch and, per source, the last position the subscriber was given (a number
 * in the in-memory log, a stream entry id `<ms>-<n>` in Redis).
 */
interface CursorState {
  e: string;
  p: Record<string, Position>;
}

export const encodeCursor = (c: CursorState) => Buffer.from(JSON.stringify(c)).toString('base64url');

export function decodeCursor(cursor: string): CursorState | null {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorState> | null;
    if (!c || typeof c.e !== 'string' || typeof c.p !== 'object' || c.p === null) return null;
    const position = (n: unknown) =>
      (Number.isInteger(n) && (n as number) >= 0) || (typeof n === 'string' && /^\d+-\d+$/.test(n));
    if (!Object.values(c.p).every(position)) return null;
    return c as CursorState;
  } catch {
    return null;
  }
}

/** One encoded cursor of an event: the epoch, sources (in the subscriber's order) and positions it encodes. */
interface SharedCursor {
  epoch: string;
  sourceIds: readonly string[];
  positions: readonly Position[];
  cursor: string;
}

/** An entry of the log being handed to the listeners it was fed to; `next`: the first not yet called. */
interface Delivery {
  sourceId: string;
  entry: Entry;
  listeners: Array<(e: Entry) => void>;
  next: number;
}

/** Listeners called per turn of the event loop (ThreadEvents.deliverSlice). */
const DELIVERY_SLICE = 500;

/** Distinct cursors kept per event (beyond them, a subscriber's cursor is encoded for it alone). */
const SHARED_CURSORS_PER_EVENT = 16;

/**
 * The engine's part for thread events: one subscription to `events:<source>` per source for the engine's whole
 * life (so the log covers the time nobody here listens); what it hears goes to the log (docs/live.md "Event log":
 * in memory, or a Redis stream), which feeds its entries, in log order, to this instance's listeners of the
 * source; publication once per event identity across instances.
 */
export class ThreadEvents {
  readonly ready: Promise<Array<() => Promise<void>>>;
  private readonly listeners = new Map<string, Set<(e: Entry) => void>>();
  /**
   * docs/live.md "Cursors": the cursors given with an event, by event object (held weakly: they go with the log's
   * entry). Every subscriber at the same positions of the same sources gets the same string, encoded once per
   * event instead of once per subscriber; subscribers of other source sets or positions get their own.
   */
  private readonly cursors = new WeakMap<object, SharedCursor[]>();
  /** Entries being handed to their listeners, in log order (see {@link deliverSlice}). */
  private readonly deliveries: Delivery[] = [];
  private sliceTimer: NodeJS.Immediate | null = null;
  /** {@link sharedCursor}, bound once for every {@link Watch}. */
  private readonly cursorFor: SharedCursorOf = this.sharedCursor.bind(this);

  constructor(
    private readonly ctx: LiveContext,
    sourceIds: string[],
    private readonly log: EventLog<ThreadEvent>,
  ) {
    log.feed((s, entry) => {
      const listeners = this.listeners.get(s);
      if (!listeners || listeners.size === 0) return;
      // The listeners as the entry is fed: one that joins later is past it (its position is the log's head).
      this.deliveries.push({ sourceId: s, entry, listeners: [...listeners], next: 0 });
      if (this.deliveries.length === 1) this.deliverSlice();
    });
    const subscriptions = Promise.all(
      sourceIds.map((s) => ctx.pubsub.subscribe(eventsTopic(s), (p) => this.onMessage(s, p))),
    );
    this.ready = Promise.all([subscriptions, log.start(sourceIds)]).then(([u]) => u);
    this.ready.catch((e: unknown) => sourceIds.forEach((s) => ctx.report(e, s)));
  }

  /** Publishes each event whose identity no instance published before (the gateway's send, then its echo: once). */
  async publish(events: ThreadEvent[]): Promise<void> {
    if (events.length === 0) return;
    const identities = events.map((e) => eventIdentity(e));
    const keyed = identities.flatMap((id, i) => (id === null ? [] : [threadEventKey(events[i]!.sourceId, id)]));
    const claimed = keyed.length > 0 ? await this.ctx.coordination.firstSeen(keyed, EVENT_TTL_MS) : [];
    let k = 0;
    // One after the other: events of one source reach the log and the topic in the order given.
    for (const [i, e] of events.entries()) {
      if (identities[i] !== null && !claimed[k++]) continue;
      const wire = toWire(e);
      // The log first (Redis: the stream entry, so every instance feeds it in the stream's order), then the topic.
      const recorded = this.log.record(e.sourceId, wire);
      const mark = recorded instanceof Promise ? await recorded : recorded;
      await this.ctx.pubsub.publish(eventsTopic(e.sourceId), mark === null ? wire : { ...wire, log: mark });
    }
  }

  /**
   * docs/live.md "Cursors": calls `onEvent` with every event after `after` (in order), then with each live one;
   * or first with ResyncRequired when some cannot be replayed. The listeners are joined before the log is read
   * and what they hear meanwhile waits, so nothing falls between replay and live or comes twice at the seam
   * (with the in-memory log, all of it happens before this returns). Returns the function that stops it.
   */
  watch(sourceIds: string[], after: string | null, onEvent: (e: DeliveredEvent) => void): () => void {
    const log = this.log;
    const w = new Watch(log, sourceIds, onEvent, this.cursorFor);
    // One listener per source, made by an arrow that names none (see Watch).
    const heard = sourceIds.map((s) => (entry: Entry) => w.hear(s, entry));
    sourceIds.forEach((s, i) => {
      let set = this.listeners.get(s);
      if (!set) this.listeners.set(s, (set = new Set()));
      set.add(heard[i]!);
    });

    const c = after === null ? null : decodeCursor(after);
    if (after !== null && !c) w.finish([], 'INVALID_CURSOR');
    else if (!c) w.finish([], null);
    else {
      // A source the cursor does not name was not watched then: nothing of it was missed.
      const named = sourceIds.filter((s) => c.p[s] !== undefined);
      if (named.some((s) => !log.isPosition(c.p[s]))) w.finish([], 'UNKNOWN_CURSOR');
      else {
        const replays = named.map((s) => log.replay(s, c.e, c.p[s]!));
        const reads = (rs: Array<LogReplay<ThreadEvent>>) =>
          rs.map((replay, i) => ({ sourceId: named[i]!, from: c.p[named[i]!]!, replay }));
        if (replays.every((r): r is LogReplay<ThreadEvent> => !(r instanceof Promise))) w.finish(reads(replays), null);
        else {
          // The replay is the cursor's epoch (the log's now, or it would be a gap).
          Promise.all(replays).then(
            (rs) => {
              if (rs.every((r) => 'events' in r)) w.epoch = c.e;
              w.finish(reads(rs), null);
            },
            () => w.finish([], 'UNKNOWN_CURSOR'),
          );
        }
      }
    }
    return () => {
      w.stopped = true;
      sourceIds.forEach((s, i) => this.listeners.get(s)?.delete(heard[i]!));
    };
  }

  /**
   * Hands queued entries to their listeners, at most {@link DELIVERY_SLICE} listeners now and the rest on the
   * next turns of the event loop (issue 14 fan-out): each listener's chain (its subscription's execution, its
   * socket's write) runs to the write within its slice, so the first subscribers have their event while the
   * last are still to be served, and I/O is not held up for a whole 10,000-subscriber event. Entries go in
   * order, each to all of its listeners before the next starts, so every listener gets them in log order.
   * Up to DELIVERY_SLICE listeners, all of it is one synchronous step, as before.
   */
  private deliverSlice(): void {
    this.sliceTimer = null;
    let budget = DELIVERY_SLICE;
    while (this.deliveries.length > 0) {
      const d = this.deliveries[0]!;
      while (d.next < d.listeners.length) {
        if (budget-- === 0) {
          this.sliceTimer = setImmediate(() => this.deliverSlice());
          return;
        }
        try {
          d.listeners[d.next++]!(d.entry);
        } catch (e) {
          // One subscriber's failure is reported, never thrown into the log's feed (nor the next listener).
          this.ctx.report(e, d.sourceId);
        }
        // close() from inside a listener: nothing of what was queued goes on.
        if (this.deliveries[0] !== d) return;
      }
      this.deliveries.shift();
    }
  }

  /**
   * The cursor after `event` for a subscriber of `sourceIds` at `positions` in `epoch`: the one already encoded
   * for the same sources (in the same order, so the same JSON) at the same positions, else a new one, kept for
   * the next subscriber (a few per event: subscribers of one screen share a handful of source sets).
   */
  private sharedCursor(
    event: object,
    epoch: string,
    sourceIds: readonly string[],
    positions: Readonly<Record<string, Position>>,
  ): string {
    let known = this.cursors.get(event);
    if (known) {
      next: for (const c of known) {
        if (c.epoch !== epoch || c.sourceIds.length !== sourceIds.length) continue;
        for (let i = 0; i < sourceIds.length; i++) {
          const s = sourceIds[i]!;
          if (c.sourceIds[i] !== s || c.positions[i] !== positions[s]) continue next;
        }
        return c.cursor;
      }
    } else this.cursors.set(event, (known = []));
    const cursor = encodeCursor({ e: epoch, p: { ...positions } });
    if (known.length < SHARED_CURSORS_PER_EVENT)
      known.push({ epoch, sourceIds: [...sourceIds], positions: sourceIds.map((s) => positions[s]!), cursor });
    return cursor;
  }

  private onMessage(sourceId: string, payload: unknown) {
    const { log: mark, ...rest } = (payload ?? {}) as { log?: unknown };
    const event = fromWire(sourceId, rest);
    if (!event) return;
    this.log.hear(sourceId, event, mark ?? null);
  }

  async close(): Promise<Array<() => Promise<void>>> {
    this.listeners.clear();
    if (this.sliceTimer) clearImmediate(this.sliceTimer);
    this.sliceTimer = null;
    this.deliveries.length = 0;
    await this.log.close();
    return this.ready.catch(() => []);
  }
}

/** {@link ThreadEvents}'s shared cursor after an event for a subscriber's sources and positions. */
type SharedCursorOf = (
  event: object,
  epoch: string,
  sourceIds: readonly string[],
  positions: Readonly<Record<string, Position>>,
) => string;

type Read = { sourceId: string; from: Position; replay: LogReplay<ThreadEvent> };

/**
 * One {@link ThreadEvents.watch}: a subscriber's positions, and the live entries it heard while its replay was
 * read. A class held for as long as the subscription is open, not named closures made per subscription: run
 * through tsx (esbuild's keepNames), each named closure carries a 256-byte property dictionary for its redefined
 * `name` (issue 14, memory per subscriber).
 */
class Watch {
  stopped = false;
  epoch: string;
  private readonly positions: Record<string, Position> = {};
  /** Live entries heard while the log is read (null once the replay is delivered). */
  private waiting: Array<[string, Entry]> | null = [];

  constructor(
    private readonly log: EventLog<ThreadEvent>,
    private readonly sourceIds: string[],
    private readonly onEvent: (e: DeliveredEvent) => void,
    private readonly cursorFor: SharedCursorOf,
  ) {
    this.epoch = log.currentEpoch();
    for (const s of sourceIds) this.positions[s] = log.head(s);
  }

  hear(s: string, entry: Entry): void {
    if (this.waiting) this.waiting.push([s, entry]);
    else this.deliver(s, entry);
  }

  deliver(s: string, entry: Entry, replayed = false): void {
    if (this.stopped) return;
    const positions = this.positions;
    if (entry.seq !== null) {
      // Redis lost the log and a new epoch began: positions of the old one mean nothing in it.
      if (entry.epoch !== this.epoch) {
        this.epoch = entry.epoch;
        for (const k of this.sourceIds) positions[k] = this.log.origin;
      }
      // Given already (replayed, or before the cursor's position): never twice.
      if (!this.log.after(entry.seq, positions[s]!)) return;
      positions[s] = entry.seq;
    }
    const e = entry.event;
    const shared = this.cursorFor(e, this.epoch, this.sourceIds, positions);
    this.onEvent({ kind: e.kind, event: e, at: e.at, cursor: shared, ...(replayed ? { replayed } : {}) });
  }

  finish(reads: Read[], gap: string | null): void {
    for (const r of reads) if ('gap' in r.replay) gap ??= r.replay.gap;
    if (gap !== null) {
      if (!this.stopped)
        this.onEvent({
          kind: 'ResyncRequired',
          reason: gap,
          at: Date.now(),
          cursor: encodeCursor({ e: this.epoch, p: { ...this.positions } }),
        });
    } else {
      // Each source starts at the cursor's position (a cursor given mid-replay must not skip the rest of it).
      for (const r of reads) this.positions[r.sourceId] = r.from;
      for (const r of reads)
        if ('events' in r.replay)
          for (const x of r.replay.events)
            this.deliver(r.sourceId, { seq: x.seq, epoch: this.epoch, event: x.event }, true);
    }
    const heard = this.waiting ?? [];
    this.waiting = null;
    for (const [s, entry] of heard) this.deliver(s, entry);
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
