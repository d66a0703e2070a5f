import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../../schema/context';
import { CostMemo } from '../costMemo';
import type { OperationCheck } from '../operation';

export { COST_MEMO_PER_DOCUMENT } from '../costMemo';

/**
 * HTTP: refuses an operation above the cost limit before it runs, once Apollo has resolved it (the variables
 * are known by then). Step 4 of the operation check (server/operation.ts); graphql-ws and SSE run it in the check.
 * An operation is costed once per document (Apollo keeps one parsed document per query text), operation name and
 * variables (server/costMemo.ts).
 */
export function costLimitPlugin(operations: OperationCheck): ApolloServerPlugin<GatewayContext> {
  const memo = new CostMemo();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operationName, request }) {
          const err = memo.check(document, operationName, request.variables, () =>
            operations.cost(document, operationName, request.variables, { http: true }),
          );
          if (err) throw err;
        },
      };
    },
  };
}
