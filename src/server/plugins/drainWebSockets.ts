import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../../schema/context';

/**
 * Drains the graphql-ws server with Apollo's own drain phase (beside ApolloServerPluginDrainHttpServer): every
 * socket is closed with 1001 (going away), so clients reconnect elsewhere.
 */
export function drainWebSocketsPlugin(ws: { dispose(): void | Promise<void> }): ApolloServerPlugin<GatewayContext> {
  return {
    async serverWillStart() {
      return {
        async drainServer() {
          await ws.dispose();
        },
      };
    },
  };
}
