import {
  getOperationAST,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationTypeNode,
  type ParseOptions,
  type ValidationRule,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { ErrorCode, GatewayError } from '../errors';
import { CostMemo } from './costMemo';
import { checkCost, limitRules, type Limits } from './limits';
import { Safelist } from './persisted';

/**
 * # The operation check
 *
 * What every GraphQL operation passes before it runs, whatever its transport, in this order:
 * 1. **resolve**: the query text; in safelist mode only a registered operation, sent in full or by its hash
 *    (`extensions.persistedQuery.sha256Hash`), anything else is PERSISTED_QUERY_NOT_FOUND;
 * 2. **parse**, stopping past `limits.maxTokens`: GRAPHQL_PARSE_FAILED;
 * 3. **validate** with graphql-js's rules, the depth and alias limits (LIMIT_EXCEEDED), and no introspection
 *    when it is off: GRAPHQL_VALIDATION_FAILED;
 * 4. **cost** with the variables (server/limits.ts): LIMIT_EXCEEDED.
 *
 * graphql-ws (server/ws.ts) has no request pipeline, so it runs {@link OperationCheck.check}: all four steps.
 * Apollo's HTTP pipeline already parses, validates and caches documents; it runs the same steps from here
 * ({@link OperationCheck.resolve} in server/middleware/safelist.ts, {@link OperationCheck.parseOptions} and
 * {@link OperationCheck.validationRules} as its own options, {@link OperationCheck.cost} in
 * server/plugins/costLimit.ts), so each step has one definition for both transports.
 */
export interface OperationCheck {
  /** Step 1: the query to run, or the refusal. `persistedHash` only counts when `query` is empty. */
  resolve(query: string | undefined, persistedHash?: unknown): { query: string } | { refusal: GraphQLError };
  /** Step 2's options (Apollo `parseOptions`). */
  readonly parseOptions: ParseOptions;
  /** Step 3's rules beyond graphql-js's `specifiedRules` (Apollo `validationRules`). */
  readonly validationRules: readonly ValidationRule[];
  /**
   * Step 4: a LIMIT_EXCEEDED error when the operation costs too much. `http` adds the HTTP status (400) Apollo
   * answers with for errors raised before execution.
   */
  cost(
    document: DocumentNode,
    operationName: string | null | undefined,
    variables: Record<string, unknown> | null | undefined,
    opts: { http: boolean },
  ): GatewayError | undefined;
  /** Every step, in order: the document to execute, or the errors to answer with (the operation does not run). */
  check(request: OperationRequest): { document: DocumentNode } | { errors: readonly GraphQLError[] };
}

/** A GraphQL request as a transport received it (graphql-ws `subscribe` payload, GraphQL-over-HTTP body). */
export interface OperationRequest {
  query?: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
  extensions?: Record<string, unknown> | null;
}

export interface OperationCheckOptions {
  schema: GraphQLSchema;
  limits: Limits;
  /** Introspection queries validate (off: graphql-js's NoSchemaIntrospectionCustomRule refuses them). */
  introspection: boolean;
  /** Safelist mode (server.persistedQueries.safelist), else null. */
  safelist: Safelist | null;
  /**
   * Parsed and validated documents kept by query text for {@link OperationCheck.check} (graphql-ws and SSE; Apollo's
   * HTTP pipeline keeps its own): the subscriptions of one screen share one document instead of one parse each
   * (a chat screen's subscription parses to about 16 KB). @default OPERATION_DOCUMENTS_MAX
   */
  maxDocuments?: number;
  /** Registers the cache's size (`switchboard_memory_store_entries{store="operation_documents"}`). */
  trackSize?: (store: string, size: () => number) => void;
}

/** Documents {@link OperationCheck.check} keeps by default, the least recently used forgotten first. */
export const OPERATION_DOCUMENTS_MAX = 1_000;

export function createOperationCheck(opts: OperationCheckOptions): OperationCheck {
  const { schema, limits, safelist } = opts;
  const parseOptions: ParseOptions = { maxTokens: limits.maxTokens };
  const validationRules: readonly ValidationRule[] = [
    ...limitRules(limits),
    ...(opts.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
  ];
  const allRules = [...specifiedRules, ...validationRules];
  // Valid documents only: a refused one is parsed and refused again each time (its errors are cheap to rebuild).
  // Bounded by count and by the text's length (each is at most maxTokens tokens anyway).
  const documents = new LRUCache<string, DocumentNode>({
    max: opts.maxDocuments ?? OPERATION_DOCUMENTS_MAX,
    maxSize: 16 * 1024 * 1024,
    sizeCalculation: (_doc, query) => Math.max(1, query.length),
  });
  opts.trackSize?.('operation_documents', () => documents.size);

  const resolve: OperationCheck['resolve'] = (given, persistedHash) => {
    if (!safelist) return { query: given ?? '' };
    const query = given || (typeof persistedHash === 'string' ? (safelist.lookup(persistedHash) ?? '') : '');
    if (safelist.allows(query)) return { query };
    const refusal = Safelist.refusal(query);
    return { refusal: new GraphQLError(refusal.message, { extensions: refusal.extensions }) };
  };

  const cost: OperationCheck['cost'] = (document, operationName, variables, { http }) =>
    checkCost(schema, document, operationName, variables ?? undefined, limits.maxCost, http);
  // Step 4 in check(): once per document, operation and variables (server/costMemo.ts).
  const passed = new CostMemo();
  const costOnce = (document: DocumentNode, request: OperationRequest) =>
    passed.check(document, request.operationName, request.variables, () =>
      cost(document, request.operationName, request.variables, { http: false }),
    );

  return {
    resolve,
    parseOptions,
    validationRules,
    cost,
    check(request) {
      const persistedHash = (request.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined)?.sha256Hash;
      const resolved = resolve(request.query, persistedHash);
      if ('refusal' in resolved) return { errors: [resolved.refusal] };
      const known = documents.get(resolved.query);
      if (known) {
        const tooCostly = costOnce(known, request);
        return tooCostly ? { errors: [tooCostly] } : { document: known };
      }
      let document: DocumentNode;
      try {
        document = parse(resolved.query, parseOptions);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        return { errors: [new GraphQLError(message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })] };
      }
      const invalid = validate(schema, document, allRules);
      if (invalid.length === 0) documents.set(resolved.query, document);
      if (invalid.length > 0) {
        return {
          errors: invalid.map((e) =>
            // A limit rule reports a GatewayError (LIMIT_EXCEEDED): it goes out as it is.
            e.originalError instanceof GraphQLError
              ? e.originalError
              : new GraphQLError(e.message, {
                  nodes: e.nodes,
                  extensions: { code: 'GRAPHQL_VALIDATION_FAILED', ...e.extensions },
                }),
          ),
        };
      }
      const tooCostly = costOnce(document, request);
      if (tooCostly) return { errors: [tooCostly] };
      return { document };
    },
  };
}

/**
 * What a transport without Apollo's pipeline (graphql-ws in server/ws.ts, SSE in server/sse.ts) runs before it
 * executes: {@link OperationCheck.check}, then the operation `operationName` names (BAD_USER_INPUT when the
 * document defines no such operation, or several and no name). Also hands back the operation's type, which SSE
 * needs (no mutation over GET, a deadline for queries and mutations only).
 */
export function prepareOperation(
  operations: OperationCheck,
  request: OperationRequest,
): { document: DocumentNode; operation: OperationTypeNode } | { errors: readonly GraphQLError[] } {
  const checked = operations.check(request);
  if ('errors' in checked) return checked;
  const ast = getOperationAST(checked.document, request.operationName);
  if (!ast) return { errors: [unknownOperation(request.operationName)] };
  return { document: checked.document, operation: ast.operation };
}

/** BAD_USER_INPUT when the document has no operation `operationName` names (or several and no name). */
function unknownOperation(operationName: string | null | undefined): GraphQLError {
  return new GatewayError(
    ErrorCode.BAD_USER_INPUT,
    operationName
      ? `Unknown operation named "${operationName}".`
      : 'Must provide operationName: the document has several operations.',
    { field: 'operationName' },
  );
}
