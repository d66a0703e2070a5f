import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import type { GatewayContext } from './context';

/**
 * Small Apollo plugins, one concern each; createGateway lists them in order.
 */

/**
 * Appends the errors of sources that failed while others answered (partial results): one entry per source and
 * code, however many fields (inbox, unread counts) met the same failure.
 */
export function sourceErrorsPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single' || contextValue.sourceErrors.length === 0) return;
          const seen = new Set<string>();
          const extra: GraphQLFormattedError[] = [];
          for (const e of contextValue.sourceErrors) {
            const key = `${e.sourceId ?? ''}\u0000${e.code}`;
            if (seen.has(key)) continue;
            seen.add(key);
            extra.push({ message: e.message, extensions: { ...e.extensions } });
          }
          const r = response.body.singleResult;
          r.errors = [...(r.errors ?? []), ...extra];
        },
      };
    },
  };
}

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

/**
 * GraphQL over HTTP: under `Accept: application/json` (the legacy media type) a request that fails to parse
 * or validate SHOULD still get 200 (spec §"application/json"); Apollo answers 400. Under
 * `application/graphql-response+json` the 400 stays, as the spec requires.
 */
export function legacyJsonStatusPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ request, response }) {
          const accept = request.http?.headers.get('accept') ?? '';
          if (accept.includes('application/graphql-response+json') || !accept.includes('application/json')) return;
          // Only GraphQL request errors (parse, validation, variable coercion) reach this hook with a 400.
          if (response.http.status === 400 && response.body.kind === 'single') response.http.status = 200;
        },
      };
    },
  };
}
