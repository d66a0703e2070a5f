import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../../schema/context';
import type { OperationDeadlines } from '../limits';

/** Stops the operation's deadline when its answer is ready, and adds LIMIT_EXCEEDED when it had passed. */
export function deadlinePlugin(deadlines: OperationDeadlines): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, contextValue }) {
          const d = deadlines.of(contextValue);
          if (!d) return;
          d.stop();
          const err = d.exceeded;
          if (!err || response.body.kind !== 'single') return;
          const r = response.body.singleResult;
          r.errors = [...(r.errors ?? []), { message: err.message, extensions: { ...err.extensions } }];
        },
      };
    },
  };
}
