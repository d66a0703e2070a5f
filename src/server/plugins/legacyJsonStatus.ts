import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../../schema/context';

/**
 * GraphQL over HTTP: under `Accept: application/json` (the legacy media type) a request that fails to parse
 * or validate SHOULD still get 200 (spec §"application/json"); Apollo answers 400. Under
 * `application/graphql-response+json` the 400 stays, as the spec requires. Decided when the request starts (its
 * Accept header is known then): a request that accepts the new media type gets no listener at all.
 */
export function legacyJsonStatusPlugin(): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart({ request }) {
      const accept = request.http?.headers.get('accept') ?? '';
      if (accept.includes('application/graphql-response+json') || !accept.includes('application/json')) return;
      return {
        async willSendResponse({ response }) {
          // Only GraphQL request errors (parse, validation, variable coercion) reach this hook with a 400.
          if (response.http.status === 400 && response.body.kind === 'single') response.http.status = 200;
        },
      };
    },
  };
}
