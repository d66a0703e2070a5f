import type { ApolloServerPlugin } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import type { GatewayContext } from '../../schema/context';

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
            // A skipped vendor row (extensions.rowId) is reported once per row, not once per source.
            const key = `${e.sourceId ?? ''}\u0000${e.code}\u0000${String(e.extensions.rowId ?? '')}`;
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
