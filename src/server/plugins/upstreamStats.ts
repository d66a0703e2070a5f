import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../../schema/context';

/**
 * `X-Upstream-Stats: 1` → `extensions.upstream = { total, bySource: [{ source, requests }] }`, counting every
 * upstream HTTP request this operation made.
 */
export function upstreamStatsPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ request }) {
      if (request.http?.headers.get('x-upstream-stats') !== '1') return;
      return {
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          const by = new Map<string, number>();
          for (const c of contextValue.upstream) by.set(c.sourceId, (by.get(c.sourceId) ?? 0) + 1);
          const r = response.body.singleResult;
          r.extensions = {
            ...r.extensions,
            upstream: {
              total: contextValue.upstream.length,
              bySource: [...by.entries()].sort().map(([source, requests]) => ({ source, requests })),
            },
          };
        },
      };
    },
  };
}
