import type { SubscriptionResolvers } from '../__generated__/resolvers-types';
import type { ConversationModel, SourceUnreadModel, UnreadCountModel } from '../../connectors/types';
import { GatewayError } from '../../errors';
import type { DeliveredEvent } from '../../live/engine';
import { createPushIterator } from '../../live/queue';
import type { GatewayContext } from '../context';
import { toGlobalId } from '../ids';
import { combineUnread } from './Query';
import { resolveId } from './shared';

function visibleIds(
  ctx: GatewayContext,
  requested: readonly string[] | null | undefined,
  unreadOnly: boolean,
): string[] {
  let ids = ctx
    .visibleSources()
    .filter((c) => !unreadOnly || c.capabilities.unreadCounts)
    .map((c) => c.id);
  if (requested) ids = ids.filter((id) => requested.includes(id));
  return ids;
}

type UnreadPayload = { unreadCountChanged: UnreadCountModel; [SOURCE_ERRORS]?: readonly GatewayError[] };

/**
 * Issue 12 item 15: the error entries a subscription event carries beside its data, one per source that is
 * missing from it (the same entries the `unreadCount` query appends, server/plugins/sourceErrors.ts).
 * graphql-js has no way for a resolver to add an error without nulling its field, so server/fanout.ts appends
 * them to the event's ExecutionResult (data and errors together, as GraphQL allows).
 */
export const SOURCE_ERRORS = Symbol('switchboard.sourceErrors');

/** The source errors a subscription payload carries, if any. */
export function payloadSourceErrors(payload: unknown): readonly GatewayError[] | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const errors = (payload as { [SOURCE_ERRORS]?: readonly GatewayError[] })[SOURCE_ERRORS];
  return errors && errors.length > 0 ? errors : undefined;
}

/**
 * Fan-out (issue 7): the live engine hands every listener of a source the same value object per change, so
 * subscribers watching the same sources get the same payload object for the same totals. The combined value and
 * its key are computed once per change instead of once per subscriber, and server/fanout.ts executes each
 * distinct selection once per payload. Keyed by the watched sources; a handful of entries (bounded).
 */
const payloads = new Map<
  string,
  { parts: Array<SourceUnreadModel | undefined>; payload: UnreadPayload; key: string }
>();

function sharedPayload(
  slot: string,
  ids: string[],
  values: Map<string, SourceUnreadModel>,
): { payload: UnreadPayload; key: string } {
  // The hit path allocates nothing: it runs once per subscriber per change.
  const hit = payloads.get(slot);
  if (hit && hit.parts.every((p, i) => p === values.get(ids[i] as string))) return hit;
  const parts = ids.map((id) => values.get(id));
  const value = combineUnread(parts.filter((v): v is SourceUnreadModel => v !== undefined));
  const entry = { parts, payload: { unreadCountChanged: value }, key: JSON.stringify(value) };
  if (payloads.size >= 64 && !hit) payloads.clear();
  payloads.set(slot, entry);
  return entry;
}

/**
 * The live engine reads a changed conversation once per event for all subscribers of this instance
 * (ConversationEvent.load), so the row is one object per event; its payload is one object too, for the fan-out.
 */
const rowPayloads = new WeakMap<ConversationModel, { conversationChanged: ConversationModel }>();
function rowPayload(c: ConversationModel): { conversationChanged: ConversationModel } {
  let p = rowPayloads.get(c);
  if (!p) rowPayloads.set(c, (p = { conversationChanged: c }));
  return p;
}

/**
 * docs/live.md "Thread events": a delivered event as the `ConversationEvent` interface's types read it (graphql-js
 * resolves the type from `__typename`).
 */
function eventPayload(e: DeliveredEvent) {
  const at = new Date(e.at);
  if (e.kind === 'ResyncRequired') {
    return {
      conversationEvents: { __typename: e.kind, at, cursor: e.cursor, conversationId: null, reason: e.reason },
    };
  }
  const ev = e.event;
  const base = {
    __typename: ev.kind,
    at,
    cursor: e.cursor,
    conversationId: toGlobalId('Conversation', ev.sourceId, ev.conversationNativeId),
  };
  switch (ev.kind) {
    case 'MessageAdded':
    case 'MessageUpdated':
      return { conversationEvents: { ...base, message: ev.message } };
    case 'MessageDeleted':
      return { conversationEvents: { ...base, messageId: toGlobalId('Message', ev.sourceId, ev.message.nativeId) } };
    case 'ConversationRead':
      return { conversationEvents: { ...base, conversation: ev.conversation } };
    case 'ConversationUpdated':
      return { conversationEvents: { ...base, conversation: ev.conversation, changedFields: ev.changedFields } };
    default:
      return { conversationEvents: base };
  }
}

/**
 * Fan-out (server/fanout.ts shares an execution per payload object): every listener of an event on this instance
 * gets the same event object, and subscribers with the same position (cursor) get the same payload object.
 * Held weakly by the event, so it goes with the log entry.
 */
const eventPayloads = new WeakMap<object, Map<string, ReturnType<typeof eventPayload>>>();
function sharedEventPayload(e: DeliveredEvent): ReturnType<typeof eventPayload> {
  if (e.kind === 'ResyncRequired') return eventPayload(e);
  let byCursor = eventPayloads.get(e.event);
  if (!byCursor) eventPayloads.set(e.event, (byCursor = new Map()));
  let p = byCursor.get(e.cursor);
  if (!p) byCursor.set(e.cursor, (p = eventPayload(e)));
  return p;
}

export const Subscription: SubscriptionResolvers = {
  conversationEvents: {
    /**
     * Thread events (live/events.ts): ids and sources are checked as the Query resolvers check them (an id of a
     * source the key cannot see is NOT_FOUND, as one that does not exist; a hidden source is left out).
     */
    subscribe: async (_p, { conversationIds, sources, after }, ctx) => {
      const wanted = conversationIds?.map((id) => resolveId(ctx, id, 'Conversation', 'conversationIds'));
      let ids = visibleIds(ctx, sources, false);
      if (wanted) ids = ids.filter((s) => wanted.some((w) => w.sourceId === s));
      const only = wanted && new Set(wanted.map((w) => `${w.sourceId}\u0000${w.nativeId}`));
      const visible = new Set(visibleIds(ctx, null, false));
      let stop: (() => Promise<void>) | null = null;
      const q = createPushIterator<ReturnType<typeof eventPayload>>(async () => {
        await stop?.();
      });
      stop = await ctx.services.live.watchEvents(ids, after ?? null, (e) => {
        if (
          e.kind !== 'ResyncRequired' &&
          only &&
          !only.has(`${e.event.sourceId}\u0000${e.event.conversationNativeId}`)
        )
          return;
        // A link or unlink that reached a source this key cannot see: not told (README "People").
        if (
          e.kind === 'ConversationUpdated' &&
          e.event.kind === 'ConversationUpdated' &&
          e.event.peopleSources?.some((s) => !visible.has(s))
        )
          return;
        // Fields beyond the event's own model read fresh data: a new session per event (as conversationChanged).
        ctx.resetSessions();
        q.push(sharedEventPayload(e));
      });
      return q.iterator as never;
    },
  },
  unreadCountChanged: {
    /** The current value first, then the new full value after each real change (live/engine.ts). */
    subscribe: async (_p, { sources }, ctx) => {
      const ids = visibleIds(ctx, sources, true);
      const slot = ids.join(',');
      const live = ctx.services.live;
      const values = new Map<string, SourceUnreadModel>();
      // Sources whose totals could not be read, with the error their absence is reported with; a source leaves
      // when a value of it arrives (the engine re-reads a failed source until it answers: live/unreadTotals.ts).
      const missing = new Map<string, GatewayError>();
      let ready = false;
      let lastSent: string | null = null;
      let stop: (() => Promise<void>) | null = null;
      const q = createPushIterator<UnreadPayload>(async () => {
        await stop?.();
      });
      const emit = () => {
        let { payload, key } = sharedPayload(slot, ids, values);
        if (missing.size > 0) {
          // Rare (a source is failing): a payload of its own, whose errors say which sources are missing.
          const errors = ids.flatMap((id) => missing.get(id) ?? []);
          payload = { unreadCountChanged: payload.unreadCountChanged, [SOURCE_ERRORS]: errors };
          key = `${key}\u0000${errors.map((e) => `${e.sourceId ?? ''}:${e.code}`).join(',')}`;
        }
        if (key === lastSent) return;
        lastSent = key;
        q.push(payload);
      };
      stop = await live.watchUnread(
        ids,
        (u) => {
          values.set(u.sourceId, u);
          missing.delete(u.sourceId);
          if (ready) emit();
        },
        // A source that answered before fails now (once per failure episode): it leaves the value, which says so
        // with its error entry, as a first value would; its next value brings it back (live/unreadTotals.ts).
        (sourceId, error) => {
          values.delete(sourceId);
          missing.set(sourceId, error);
          if (ready) emit();
        },
      );
      await Promise.all(
        ids.map(async (id) => {
          try {
            const v = await live.current(id);
            // What the listeners heard while it was read is newer: a value, or a failure of a later read (which
            // stays until the source's next value: live/unreadTotals.ts).
            if (v && !values.has(id) && !missing.has(id)) values.set(id, v);
          } catch (e) {
            // A failing source is left out of the first value, which says so with the source's error entry (not
            // "no unread"); it joins, and the error leaves, when it answers again.
            if (!(e instanceof GatewayError && e.isSourceFailure)) throw e;
            if (!values.has(id)) missing.set(id, e);
          }
        }),
      );
      ready = true;
      emit();
      return q.iterator;
    },
  },
  conversationChanged: {
    /** Each conversation of the sources whose unread count, last message or status may have changed (live/engine.ts). */
    subscribe: async (_p, { sources }, ctx) => {
      const ids = visibleIds(ctx, sources, false);
      let stop: (() => Promise<void>) | null = null;
      const q = createPushIterator<{ conversationChanged: ConversationModel }>(async () => {
        await stop?.();
      });
      stop = await ctx.services.live.watchConversations(ids, (event) => {
        // The engine reads the row once per event for every subscriber of this instance (with participants, last
        // message and unread count filled in); fields beyond those read fresh data: a new session per event, so no
        // loader cache from an earlier event.
        ctx.resetSessions();
        event
          .load()
          .then((c) => {
            if (c) q.push(rowPayload(c));
          })
          .catch(() => {
            // Deleted or unreachable: nothing to show for this event.
          });
      });
      return q.iterator;
    },
  },
};
