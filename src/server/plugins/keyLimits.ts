import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../../schema/context';
import type { KeyLease, KeyLimits } from '../keyLimits';

/**
 * HTTP: the API key's limits (server/keyLimits.ts) once Apollo has resolved the operation, so that only operations
 * that would run count (an APQ hash the cache does not know, a parse error: not counted). A refusal is HTTP 429
 * LIMIT_EXCEEDED with `retryAfter` and a Retry-After header, before any upstream call; an admitted query or mutation
 * holds one of the key's concurrent operations until its answer is sent.
 */
export function keyLimitsPlugin(limits: KeyLimits): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      let lease: KeyLease | undefined;
      return {
        async didResolveOperation({ operation, contextValue }) {
          lease = limits.admit(contextValue.viewer, operation?.operation ?? 'query', { http: true });
        },
        async willSendResponse() {
          lease?.release();
          lease = undefined;
        },
      };
    },
  };
}
