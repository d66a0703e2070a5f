import type { SubscriptionResolvers } from '../__generated__/resolvers-types';
import type { ConversationModel, SourceUnreadModel, UnreadCountModel } from '../../connectors/types';
import { GatewayError } from '../../errors';
import { createPushIterator } from '../../live/queue';
import type { GatewayContext } from '../../server/context';
import { combineUnread } from './Query';

function visibleIds(ctx: GatewayContext, requested: readonly string[] | null | undefined, unreadOnly: boolean): string[] {
  let ids = ctx.visibleSources().filter((c) => !unreadOnly || c.capabilities.unreadCounts).map((c) => c.id);
  if (requested) ids = ids.filter((id) => requested.includes(id));
  return ids;
}

export const Subscription: SubscriptionResolvers = {
  unreadCountChanged: {
    /** The current value first, then the new full value after each real change (live/engine.ts). */
    subscribe: async (_p, { sources }, ctx) => {
      const ids = visibleIds(ctx, sources, true);
      const live = ctx.services.live;
      const values = new Map<string, SourceUnreadModel>();
      let ready = false;
      let lastSent: string | null = null;
      let stop: (() => Promise<void>) | null = null;
      const q = createPushIterator<{ unreadCountChanged: UnreadCountModel }>(async () => {
        await stop?.();
      });
      const emit = () => {
        const value = combineUnread(ids.map((id) => values.get(id)).filter((v): v is SourceUnreadModel => v !== undefined));
        const key = JSON.stringify(value);
        if (key === lastSent) return;
        lastSent = key;
        q.push({ unreadCountChanged: value });
      };
      stop = await live.watchUnread(ids, (u) => {
        values.set(u.sourceId, u);
        if (ready) emit();
      });
      await Promise.all(
        ids.map(async (id) => {
          try {
            const v = await live.current(id);
            if (v && !values.has(id)) values.set(id, v);
          } catch (e) {
            // A failing source is left out of the first value; it joins when it answers again.
            if (!(e instanceof GatewayError && e.isSourceFailure)) throw e;
          }
        }),
      );
      ready = true;
      emit();
      return q.iterator;
    },
  },
  conversationChanged: {
    subscribe: async (_p, { sources }, ctx) => {
      const ids = visibleIds(ctx, sources, false);
      let stop: (() => Promise<void>) | null = null;
      const q = createPushIterator<{ conversationChanged: ConversationModel }>(async () => {
        await stop?.();
      });
      stop = await ctx.services.live.watchConversations(ids, ({ sourceId, conversationNativeId }) => {
        // Each event reads fresh data: a new session, so no loader cache from an earlier event.
        ctx.resetSessions();
        ctx
          .session(sourceId)
          .loadConversation(conversationNativeId)
          .then((c) => {
            if (c) q.push({ conversationChanged: c });
          })
          .catch(() => {
            // Deleted or unreachable: nothing to show for this event.
          });
      });
      return q.iterator;
    },
  },
};
