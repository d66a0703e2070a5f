import { setMaxListeners } from 'node:events';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import type { DocumentNode, GraphQLError, GraphQLSchema, ValidationContext, ValidationRule } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { SERVER_LIMIT_DEFAULTS, type Config } from '../config/schema';
import { ErrorCode, GatewayError } from '../errors';

/**
 * Request limits, each refused with a clear error before any upstream call:
 * - tokens: the parser stops past `maxTokens` (Apollo's GRAPHQL_PARSE_FAILED, its message names the limit);
 * - depth and aliases: validation rules (graphql-armor), LIMIT_EXCEEDED;
 * - cost: a static estimate with the variables (graphql-query-complexity), LIMIT_EXCEEDED;
 * - deadline: {@link OperationDeadline}, aborting upstream calls, LIMIT_EXCEEDED beside their SOURCE_TIMEOUT.
 * Page sizes (100) and body size (`maxBodyBytes`, HTTP 413) are checked where they arise.
 */
export interface Limits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
  maxTokens: number;
  operationTimeoutMs: number;
}

export function resolveLimits(server: Config['server']): Limits {
  const l = server.limits ?? {};
  return {
    maxDepth: l.maxDepth ?? SERVER_LIMIT_DEFAULTS.maxDepth,
    maxAliases: l.maxAliases ?? SERVER_LIMIT_DEFAULTS.maxAliases,
    maxCost: l.maxCost ?? SERVER_LIMIT_DEFAULTS.maxCost,
    maxTokens: l.maxTokens ?? SERVER_LIMIT_DEFAULTS.maxTokens,
    operationTimeoutMs: server.operationTimeoutMs ?? SERVER_LIMIT_DEFAULTS.operationTimeoutMs,
  };
}

/** Depth (introspection's own nesting excluded) and alias limits, for Apollo and graphql-ws alike. */
export function limitRules(limits: Limits): ValidationRule[] {
  const report = (limit: string, max: number) => (ctx: ValidationContext | null, err: GraphQLError) => {
    // graphql-armor words it "Syntax Error: Query depth limit of 12 exceeded, found 13."; it is no syntax error.
    ctx?.reportError(
      new GatewayError(ErrorCode.LIMIT_EXCEEDED, err.message.replace(/^Syntax Error: /, ''), { limit, max }),
    );
  };
  return [
    maxDepthRule({ n: limits.maxDepth, propagateOnRejection: false, onReject: [report('depth', limits.maxDepth)] }),
    maxAliasesRule({
      n: limits.maxAliases,
      propagateOnRejection: false,
      onReject: [report('aliases', limits.maxAliases)],
    }),
  ] as ValidationRule[];
}

/** The page size a paginated field gets without first/last (Query.conversations, Conversation.messages). */
const DEFAULT_PAGE = 20;

/**
 * Static cost: every field costs 1 plus its selection; a paginated field (one with `first`/`last` arguments)
 * multiplies its selection by `first` or `last` (20 when neither is given), and `nodes(ids)` by the ids.
 */
const costEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  let n = 1;
  if (typeof args.first === 'number') n = args.first;
  else if (typeof args.last === 'number') n = args.last;
  else if (Array.isArray(args.ids)) n = args.ids.length;
  else if (field.args.some((a) => a.name === 'first' || a.name === 'last')) n = DEFAULT_PAGE;
  return 1 + Math.max(0, n) * childComplexity;
};

const COST_RULE =
  'every field costs 1, and a paginated field multiplies its selection by first or last (20 by default)';

/**
 * The operation's cost, or a LIMIT_EXCEEDED error when it is above `max` (or too large to even count: a
 * fragment bomb). Undefined when the variables are invalid: execution reports that as it always does.
 * `http` adds Apollo's HTTP status (400) for errors raised before execution.
 */
export function checkCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | undefined,
  max: number,
  http: boolean,
): GatewayError | undefined {
  const extra = http ? { http: { status: 400 } } : {};
  let cost: number;
  try {
    cost = getComplexity({
      schema,
      query: document,
      operationName: operationName ?? undefined,
      variables,
      estimators: [costEstimator],
    });
  } catch (e) {
    if (e instanceof Error && /maximum allowed number of nodes/.test(e.message)) {
      return new GatewayError(
        ErrorCode.LIMIT_EXCEEDED,
        `The operation is too large to estimate its cost (limit ${max}; ${COST_RULE}).`,
        {
          limit: 'cost',
          max,
          ...extra,
        },
      );
    }
    return undefined;
  }
  if (cost <= max) return undefined;
  return new GatewayError(
    ErrorCode.LIMIT_EXCEEDED,
    `The operation's cost is ${cost}, above the limit of ${max} (${COST_RULE}).`,
    {
      limit: 'cost',
      max,
      cost,
      ...extra,
    },
  );
}

/**
 * One operation's overall deadline: its signal aborts when `ms` passes (reason: a LIMIT_EXCEEDED GatewayError,
 * which upstream calls turn into SOURCE_TIMEOUT naming their source) or when `parent` aborts (the client went
 * away). `stop()` once the answer is ready, so a deadline can no longer pass after the work is done.
 */
export class OperationDeadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  readonly signal = this.controller.signal;

  constructor(
    readonly ms: number,
    parent?: AbortSignal,
  ) {
    // Every upstream call of the operation listens to this signal; dozens at once are normal.
    setMaxListeners(0, this.signal);
    this.timer = setTimeout(
      () =>
        this.controller.abort(
          new GatewayError(ErrorCode.LIMIT_EXCEEDED, `The operation exceeded its deadline of ${ms} ms.`, {
            limit: 'deadline',
            max: ms,
          }),
        ),
      ms,
    );
    parent?.addEventListener('abort', () => this.controller.abort(parent.reason), { once: true });
  }

  /**
   * The client went away before the answer was sent: upstream calls still running are aborted (an `AbortError`,
   * made only now: most operations end with their answer sent and never need one).
   */
  clientGone(): void {
    if (!this.signal.aborted) this.controller.abort(new DOMException('The client went away.', 'AbortError'));
  }

  /** The deadline error when the deadline passed before stop(). */
  get exceeded(): GatewayError | null {
    const r: unknown = this.signal.reason;
    return this.signal.aborted && r instanceof GatewayError && r.code === ErrorCode.LIMIT_EXCEEDED ? r : null;
  }

  stop() {
    clearTimeout(this.timer);
  }
}

/**
 * The deadline of each HTTP operation, found by its context's signal: Apollo hands plugins a copy of the context
 * object, so the deadline cannot ride on the context itself.
 */
export class OperationDeadlines {
  private readonly bySignal = new WeakMap<AbortSignal, OperationDeadline>();

  constructor(readonly ms: number) {}

  /** A new deadline that also aborts when `parent` does (the client went away). */
  start(parent?: AbortSignal): OperationDeadline {
    const d = new OperationDeadline(this.ms, parent);
    this.bySignal.set(d.signal, d);
    return d;
  }

  of(ctx: { signal?: AbortSignal }): OperationDeadline | undefined {
    return ctx.signal ? this.bySignal.get(ctx.signal) : undefined;
  }
}
