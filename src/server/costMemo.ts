import type { DocumentNode } from 'graphql';
import type { GatewayError } from '../errors';

/**
 * Variable sets remembered per document as within the cost limit. Past it, the document's further variable sets are
 * costed every time (a client that sends ever new variables, such as ids, gains nothing from remembering them).
 */
export const COST_MEMO_PER_DOCUMENT = 64;

/**
 * What passed the cost limit (step 4 of the operation check, server/operation.ts), by document, operation name and
 * variables. The cost is static (README "Limits": fields, `first`/`last` and `nodes` ids, variables included), so
 * an operation that passed once passes again: it is costed once, not per request or per subscription (costing a
 * chat screen's subscription walks its document with graphql-js's visitor, about 34 KB of garbage each: issue 14,
 * 10,000 subscribers). Kept with the document (a WeakMap: documents are cached per query text, by Apollo over HTTP
 * and by the operation check for graphql-ws and SSE), up to {@link COST_MEMO_PER_DOCUMENT} variable sets each.
 * What failed is costed again each time, so every refusal carries its own error.
 */
export class CostMemo {
  private readonly passed = new WeakMap<DocumentNode, Set<string>>();

  /** `cost()`'s refusal, or undefined; `cost` runs only when this operation has not passed before. */
  check(
    document: DocumentNode,
    operationName: string | null | undefined,
    variables: Record<string, unknown> | null | undefined,
    cost: () => GatewayError | undefined,
  ): GatewayError | undefined {
    const known = this.passed.get(document);
    const key = `${operationName ?? ''}\u0000${JSON.stringify(variables ?? {})}`;
    if (known?.has(key)) return undefined;
    const refusal = cost();
    if (refusal) return refusal;
    if (!known) this.passed.set(document, new Set([key]));
    else if (known.size < COST_MEMO_PER_DOCUMENT) known.add(key);
    return undefined;
  }
}
