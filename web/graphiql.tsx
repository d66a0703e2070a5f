/**
 * Switchboard's offline GraphiQL. Bundled by scripts/build-graphiql.mjs into public/graphiql/ and loaded by the page
 * that src/graphiql/index.ts serves at the GraphQL path. Everything it loads comes from the page's own origin: the
 * page's Content-Security-Policy allows nothing else.
 */
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher, type Fetcher, type FetcherOpts, type FetcherParams } from '@graphiql/toolkit';
import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import { getOperationAST, type DocumentNode } from 'graphql';
import 'graphiql/style.css';
import './page.css';

/** The JSON in `<script id="switchboard-config" type="application/json">` (written by src/graphiql/index.ts). */
interface SwitchboardConfig {
  graphqlPath: string;
  defaultHeaders: Record<string, string>;
  defaultQuery: string;
  tabs?: { query: string; variables?: string; headers?: string }[];
}

type Headers = Record<string, unknown>;

// Captured now: document.currentScript is only set while this (classic, non-module) script first runs.
const scriptUrl =
  (document.currentScript as HTMLScriptElement | null)?.src ?? `${location.origin}/graphiql/graphiql.js`;

// Monaco runs its language services in web workers. graphiql's setup-workers/* helpers only know vite, webpack and
// esm.sh (a CDN), so the build emits the three workers next to this script and we name them here. Same-origin
// script URLs keep `worker-src 'self'` sufficient (no blob: workers).
(globalThis as { MonacoEnvironment?: unknown }).MonacoEnvironment = {
  getWorker(_workerId: string, label: string): Worker {
    const file = label === 'json' ? 'json.worker.js' : label === 'graphql' ? 'graphql.worker.js' : 'editor.worker.js';
    return new Worker(new URL(file, scriptUrl), { name: label });
  },
};

function readConfig(): SwitchboardConfig {
  const text = document.getElementById('switchboard-config')?.textContent;
  if (!text) throw new Error('GraphiQL: the page has no #switchboard-config');
  const raw = JSON.parse(text) as Partial<SwitchboardConfig>;
  if (typeof raw.graphqlPath !== 'string' || !raw.graphqlPath.startsWith('/')) {
    throw new Error('GraphiQL: config.graphqlPath must be an absolute path');
  }
  return {
    graphqlPath: raw.graphqlPath,
    defaultHeaders: raw.defaultHeaders ?? {},
    defaultQuery: raw.defaultQuery ?? '',
    tabs: raw.tabs,
  };
}

/** Case-insensitive header lookup; header names are case-insensitive but the editor holds whatever was typed. */
function findHeader(headers: Headers | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted && value !== undefined && value !== null) return String(value);
  }
  return undefined;
}

/**
 * The defaults overlaid by the headers editor. Merged by lower-cased name: a plain object spread would send
 * `Authorization` and `authorization` both, which fetch joins into one "a, b" value.
 */
function mergeHeaders(defaults: Record<string, string>, editor: Headers | undefined): Record<string, string> {
  const merged = new Map<string, [string, string]>();
  for (const [key, value] of Object.entries(defaults)) merged.set(key.toLowerCase(), [key, value]);
  for (const [key, value] of Object.entries(editor ?? {})) {
    if (value === undefined || value === null) continue;
    merged.set(key.toLowerCase(), [key, String(value)]);
  }
  return Object.fromEntries(merged.values());
}

function isSubscription(documentAST: DocumentNode | undefined, operationName: string | null | undefined): boolean {
  if (!documentAST) return false;
  return getOperationAST(documentAST, operationName ?? undefined)?.operation === 'subscription';
}

/**
 * A failed or closed socket rejects with the CloseEvent itself, which GraphiQL would print as "{}". Plain
 * `{ message }` objects, like GraphQL errors, print without a stack trace into the minified bundle.
 */
function toError(reason: unknown): unknown {
  if (typeof CloseEvent !== 'undefined' && reason instanceof CloseEvent) {
    return { message: `WebSocket closed with code ${reason.code}${reason.reason ? `: ${reason.reason}` : ''}` };
  }
  if (reason instanceof Event) return { message: `WebSocket error (${reason.type})` };
  if (reason instanceof Error) return { message: reason.message };
  return reason;
}

/**
 * HTTP for queries and mutations (GraphiQL's own fetcher), graphql-ws for subscriptions. The gateway authenticates
 * graphql-ws in the connection_init payload, so the socket is opened with `{ authorization }` taken from the
 * headers editor at the moment the subscription starts, or from the defaults when the editor has none.
 */
function createSwitchboardFetcher(config: SwitchboardConfig): Fetcher {
  const url = new URL(config.graphqlPath, location.origin).href;
  const subscriptionUrl = url.replace(/^http/, 'ws');
  // Without incremental delivery the toolkit asks for application/graphql-response+json and skips the multipart
  // parser; Apollo on graphql 16 has no @defer/@stream anyway.
  const http = createGraphiQLFetcher({ url, enableIncrementalDelivery: false });

  // One lazy client per authorization value: a changed header opens a new socket for new subscriptions, while
  // subscriptions already running keep theirs (lazy clients close the socket after their last subscription).
  let ws: { authorization: string | undefined; client: Client } | undefined;
  const clientFor = (authorization: string | undefined): Client => {
    if (!ws || ws.authorization !== authorization) {
      ws = {
        authorization,
        client: createClient({
          url: subscriptionUrl,
          connectionParams: authorization === undefined ? {} : { authorization },
          // A developer tool should show a refused or dropped socket at once instead of retrying in the background.
          retryAttempts: 0,
        }),
      };
    }
    return ws.client;
  };

  return (params: FetcherParams, opts?: FetcherOpts) => {
    const headers = mergeHeaders(config.defaultHeaders, opts?.headers);
    if (!isSubscription(opts?.documentAST, params.operationName)) {
      return http(params, { ...opts, headers });
    }
    const client = clientFor(findHeader(headers, 'authorization'));
    // An Observable: GraphiQL subscribes to it and calls unsubscribe when the user presses stop.
    return {
      subscribe(
        sinkOrNext?:
          | { next: (value: ExecutionResult) => void; error: (error: unknown) => void; complete: () => void }
          | ((value: ExecutionResult) => void),
        error?: ((error: unknown) => void) | null,
        complete?: () => void,
      ) {
        const sink =
          typeof sinkOrNext === 'function' || sinkOrNext === undefined
            ? { next: sinkOrNext ?? (() => {}), error: error ?? (() => {}), complete: complete ?? (() => {}) }
            : sinkOrNext;
        const dispose = client.subscribe(
          {
            query: params.query,
            operationName: params.operationName ?? undefined,
            variables: params.variables as Record<string, unknown> | undefined,
          },
          {
            // The toolkit types results as graphql-ws's ExecutionResult (GraphQLError instances); what arrives over the
            // wire is the same shape with formatted (plain JSON) errors, which is all GraphiQL reads.
            next: (value) => sink.next(value as ExecutionResult),
            error: (reason) => sink.error(toError(reason)),
            complete: () => sink.complete(),
          },
        );
        return { unsubscribe: dispose };
      },
    };
  };
}

const config = readConfig();
const root = document.getElementById('graphiql');
if (!root) throw new Error('GraphiQL: the page has no #graphiql element');

const defaultHeaders = JSON.stringify(config.defaultHeaders, null, 2);
// Tabs given without headers still get the defaults, so every tab starts out authenticated.
const defaultTabs = config.tabs?.map((tab) => ({ ...tab, headers: tab.headers ?? defaultHeaders }));

createRoot(root).render(
  <GraphiQL
    fetcher={createSwitchboardFetcher(config)}
    defaultQuery={config.defaultQuery}
    defaultHeaders={defaultHeaders}
    defaultTabs={defaultTabs}
    defaultEditorToolsVisibility="headers"
  />,
);
