import type { ApolloServerPlugin } from '@apollo/server';
import type { DocumentNode } from 'graphql';
import type { GatewayContext } from '../../schema/context';
import type { OperationCheck } from '../operation';

/**
 * Variable sets remembered per document as within the cost limit. Past it, the document's further variable sets are
 * costed every time (a client that sends ever new variables, such as ids, gains nothing from remembering them).
 */
export const COST_MEMO_PER_DOCUMENT = 64;

/**
 * HTTP: refuses an operation above the cost limit before it runs, once Apollo has resolved it (the variables
 * are known by then). Step 4 of the operation check (server/operation.ts); graphql-ws runs it in the check.
 *
 * The cost is static (README "Limits": fields, `first`/`last` and `nodes` ids, variables included), so an operation
 * is costed once per document (Apollo keeps one parsed document per query text), operation name and variables:
 * what passed is remembered (up to {@link COST_MEMO_PER_DOCUMENT} per document, with the document: a WeakMap), and
 * what failed is costed again each time, so every refusal carries its own error.
 */
export function costLimitPlugin(operations: OperationCheck): ApolloServerPlugin<GatewayContext> {
  const passed = new WeakMap<DocumentNode, Set<string>>();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operationName, request }) {
          const known = passed.get(document);
          const key = `${operationName ?? ''}\u0000${JSON.stringify(request.variables ?? {})}`;
          if (known?.has(key)) return;
          const err = operations.cost(document, operationName, request.variables, { http: true });
          if (err) throw err;
          if (!known) passed.set(document, new Set([key]));
          else if (known.size < COST_MEMO_PER_DOCUMENT) known.add(key);
        },
      };
    },
  };
}
