import { randomUUID } from 'node:crypto';
import type { Connector, ConnectorSession, RequestScope } from '../connectors/types';
import { notFound } from '../errors';
import type { GatewayContext, GatewayServices, Viewer } from '../schema/context';

/**
 * How an operation opens a source's session. The default is the connector's own; a different one (the
 * benchmark's naive baseline in bench/baseline.ts) changes what a session shares. The context keeps the
 * session it returns for the rest of the operation.
 */
export type OpenSession = (connector: Connector, scope: RequestScope) => ConnectorSession;

export const openConnectorSession: OpenSession = (connector, scope) => connector.openSession(scope);

/** Builds the per-operation {@link GatewayContext} (its type lives in src/schema/context.ts, beside the resolvers). */
export function createContext(
  services: GatewayServices,
  viewer: Viewer,
  opts: { requestId?: string; publicBaseUrl: string; signal?: AbortSignal; openSession?: OpenSession },
): GatewayContext {
  const requestId = opts.requestId ?? randomUUID();
  const open = opts.openSession ?? openConnectorSession;
  const sessions = new Map<string, ConnectorSession>();
  const upstream: GatewayContext['upstream'] = [];
  const visible = services.connectors.filter((c) => viewer.sourceIds.has(c.id));
  const byId = new Map(visible.map((c) => [c.id, c]));
  const reported = new Set<string>();
  const scope: RequestScope = {
    requestId,
    signal: opts.signal,
    // Upstream calls come out of this API key's fair share of each source's budget (connectors/fairShare.ts).
    tenant: viewer.keyId,
    // Methods, not named arrows (here and below): a context is made per operation and per subscription, and tsx
    // (esbuild's keepNames) redefines the `name` of every named arrow, which gives the function a 256-byte
    // property dictionary (issue 14, memory per subscriber).
    recordUpstream(call) {
      upstream.push(call);
      services.recordUpstream?.(call, requestId);
    },
    // A vendor row left out of a page (connectors/decode.ts rowsOf): an error entry beside the data, logged and
    // counted by the operation metrics plugin; once per row however often the operation read it.
    report(e) {
      const key = `${e.sourceId ?? ''}\u0000${e.code}\u0000${String(e.extensions.rowId ?? e.message)}`;
      if (reported.has(key)) return;
      reported.add(key);
      ctx.sourceErrors.push(e);
      // Logged and counted once per source and row across operations (and the live engine's reads).
      services.rowSkipped?.(e, requestId);
    },
  };
  const ctx: GatewayContext = {
    requestId,
    viewer,
    services,
    publicBaseUrl: services.publicUrl ?? opts.publicBaseUrl,
    upstream,
    sourceErrors: [],
    signal: opts.signal,
    visibleSources() {
      return visible;
    },
    connector(sourceId) {
      const c = byId.get(sourceId);
      if (!c) throw notFound(`Source "${sourceId}"`);
      return c;
    },
    session(sourceId) {
      let s = sessions.get(sourceId);
      if (!s) {
        s = open(ctx.connector(sourceId), scope);
        sessions.set(sourceId, s);
      }
      return s;
    },
    resetSessions() {
      sessions.clear();
    },
  };
  return ctx;
}

/** The context of one operation for a viewer: createContext over the gateway's services (createGateway binds them). */
export type ContextFor = (
  viewer: Viewer,
  opts: { requestId?: string; publicBaseUrl: string; signal?: AbortSignal },
) => GatewayContext;
