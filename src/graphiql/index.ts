import { existsSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import { EXAMPLE_OPERATIONS } from './examples';

export { EXAMPLE_OPERATIONS } from './examples';

/** Where the server mounts `static`; the page's asset URLs are absolute under it. */
export const GRAPHIQL_ASSETS_PATH = '/graphiql';

export interface GraphiqlOptions {
  /** The GraphQL endpoint (HTTP and graphql-ws), for example `/graphql`. */
  graphqlPath: string;
  /** Pre-filled in the headers editor and used when it lacks a header (for example `Authorization`). */
  defaultHeaders?: Record<string, string>;
  /** The built bundle; defaults to public/graphiql at the project root (the same from src/ and dist/). */
  publicDir?: string;
}

export interface GraphiqlMiddleware {
  /** Serves the bundle; mount it at `${GRAPHIQL_ASSETS_PATH}/`. */
  static: express.RequestHandler;
  /** Answers a GET that prefers text/html with the GraphiQL page, and calls next() for everything else. */
  page: express.RequestHandler;
}

/**
 * The offline GraphiQL: a page served at the GraphQL path to browsers, loading only same-origin assets built by
 * scripts/build-graphiql.mjs (`npm run build:graphiql`). Apollo's own landing page loads from a CDN and must be
 * disabled by the server.
 */
export function graphiqlMiddleware(opts: GraphiqlOptions): GraphiqlMiddleware {
  const publicDir = opts.publicDir ?? path.join(__dirname, '..', '..', 'public', 'graphiql');
  const bundle = path.join(publicDir, 'graphiql.js');
  const config = {
    graphqlPath: opts.graphqlPath,
    defaultHeaders: opts.defaultHeaders ?? {},
    defaultQuery: EXAMPLE_OPERATIONS,
  };
  const html = renderPage(config);
  const serveStatic = express.static(publicDir, {
    index: false,
    // Workers get their CSP from their own response (CSP 3), so the assets carry the policy as well.
    setHeaders: (res) => {
      res.setHeader('Content-Security-Policy', contentSecurityPolicy(undefined));
      res.setHeader('X-Content-Type-Options', 'nosniff');
    },
  });

  const page: express.RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    // The same URL answers GraphQL over GET, so shared caches must key on Accept.
    res.vary('Accept');
    if (!prefersHtml(req)) return next();
    if (!existsSync(bundle)) {
      res.status(503).type('text/plain').send('GraphiQL is not built. Run `npm run build:graphiql` and reload.\n');
      return;
    }
    res.setHeader('Content-Security-Policy', contentSecurityPolicy(req.headers.host));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    // The page embeds the default headers, which may hold an API key.
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(html);
  };

  return { static: serveStatic, page };
}

/**
 * Like Apollo's landing-page check: HTML only when the client ranks text/html above every GraphQL response type,
 * so `Accept: *\/*` (curl, fetch) and missing Accept headers still reach GraphQL.
 */
function prefersHtml(req: express.Request): boolean {
  if (!req.headers.accept) return false;
  return (
    req.accepts(['application/json', 'application/graphql-response+json', 'multipart/mixed', 'text/html']) ===
    'text/html'
  );
}

// host[:port], a bracketed IPv6 literal[:port]; anything else stays out of the policy.
const HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * Only the page's own origin. `'unsafe-inline'` for styles because Monaco and GraphiQL insert <style> elements at
 * runtime; fonts and icons are data: URLs inside the CSS. ws(s) to the same host is spelled out because `'self'`
 * matching ws: is CSP 3 and not every browser has it.
 */
function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** JSON for an inline `<script type="application/json">`: no `<`, `>` or `&` survive, so `</script>` cannot end it. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function renderPage(config: {
  graphqlPath: string;
  defaultHeaders: Record<string, string>;
  defaultQuery: string;
}): string {
  const assets = GRAPHIQL_ASSETS_PATH;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${assets}/graphiql.css">
</head>
<body>
<noscript>GraphiQL needs JavaScript. The GraphQL endpoint itself works without it.</noscript>
<div id="graphiql"></div>
<script id="switchboard-config" type="application/json">${jsonForScript(config)}</script>
<script src="${assets}/graphiql.js"></script>
</body>
</html>
`;
}
