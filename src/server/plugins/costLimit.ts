import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../../schema/context';
import type { OperationCheck } from '../operation';

/**
 * HTTP: refuses an operation above the cost limit before it runs, once Apollo has resolved it (the variables
 * are known by then). Step 4 of the operation check (server/operation.ts); graphql-ws runs it in the check.
 */
export function costLimitPlugin(operations: OperationCheck): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operationName, request }) {
          const err = operations.cost(document, operationName, request.variables, { http: true });
          if (err) throw err;
        },
      };
    },
  };
}
