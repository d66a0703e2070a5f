/**
 * The offline GraphiQL in a real browser (Debian's Chromium through playwright-core): the page served at /graphql,
 * a query over HTTP and a subscription over graphql-ws run through the UI, and nothing loaded from anywhere but the
 * gateway. Needs the bundle (`npm test` builds it in pretest) and /usr/bin/chromium
 * (`apt-get install -y chromium`); without it the suite fails at once with that command, it is never skipped.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { chromium, type BrowserContext, type Page, type Request } from 'playwright-core';
import { EXAMPLE_OPERATIONS, graphiqlMiddleware } from '../../src/graphiql';
import { DEMO_NAMES } from '../../src/sandbox/demoPeople';
import { decodeGlobalId } from '../../src/schema/ids';
import { startTestGateway } from '../utils/gateway';
import { waitFor } from '../utils/wait';

// CHROMIUM_PATH points at another build (and shows the failure when it names nothing).
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Keep a headless browser quiet: no update checks, sync, field trials or QUIC probes to Google.
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const CHROMIUM_INSTALL_COMMAND = 'apt-get install -y chromium';
/** Never skipped: without the browser the suite fails at once, naming the command that installs it. */
function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} not found: the GraphiQL browser test needs Debian's Chromium. Install it with: ${CHROMIUM_INSTALL_COMMAND}`,
    );
  }
}

type Gateway = Awaited<ReturnType<typeof startTestGateway>>;

describe('GraphiQL in Chromium', () => {
  let gateway: Gateway | undefined;
  let userDataDir: string | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  const requested: string[] = [];
  const consoleErrors: string[] = [];
  const connectionInits: unknown[] = [];

  beforeAll(async () => {
    requireChromium();
    gateway = await startTestGateway();
    userDataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-graphiql-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
    // Context-level, so requests made by the Monaco workers count too.
    context.on('request', (request: Request) => requested.push(request.url()));
    page = context.pages()[0] ?? (await context.newPage());
    page.on('worker', (worker) => requested.push(worker.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
    page.on('websocket', (socket) => {
      requested.push(socket.url());
      socket.on('framesent', (frame) => {
        if (typeof frame.payload !== 'string') return;
        const message = JSON.parse(frame.payload) as { type?: string; payload?: unknown };
        if (message.type === 'connection_init') connectionInits.push(message.payload);
      });
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    await gateway?.close();
  }, 30_000);

  /** The response pane's text. Monaco renders spaces as U+00A0; only the visible lines are in the DOM. */
  async function responseText(): Promise<string> {
    return (await page.locator('.graphiql-response').innerText()).replace(/\u00a0/g, ' ');
  }

  /** Polls the response pane until it contains `expected`, then returns its text. */
  async function waitForResponseText(expected: string, timeoutMs = 10_000): Promise<string> {
    let text = '';
    return waitFor(
      async () => {
        text = await responseText();
        return text.includes(expected) ? text : undefined;
      },
      { timeoutMs, everyMs: 100, what: `the response pane to show ${expected}` },
    ).catch((e: Error) => {
      throw new Error(`${e.message}; it shows:\n${text}`, { cause: e });
    });
  }

  /** The execute button opens a menu of the document's operations; picking one runs it. */
  async function runOperation(name: string): Promise<void> {
    await page.locator('.graphiql-execute-button').click();
    await page.getByRole('menuitem', { name, exact: true }).click();
  }

  it('serves GraphiQL at /graphql to a browser navigation, under a same-origin Content-Security-Policy', async () => {
    const response = await page.goto(`${gateway!.url}/graphql`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:|\*/);
    // The editor is filled with the example operations once Monaco is up.
    await page.locator('.graphiql-query-editor .view-lines', { hasText: 'Inbox' }).waitFor({ timeout: 20_000 });
  }, 30_000);

  it('runs the Sources query over HTTP with the default Authorization header and shows real data', async () => {
    const graphqlResponse = page.waitForResponse(
      (response) =>
        response.url() === `${gateway!.url}/graphql` &&
        response.request().method() === 'POST' &&
        (response.request().postData() ?? '').includes('"operationName":"Sources"'),
    );
    await runOperation('Sources');
    const response = await graphqlResponse;
    expect(response.request().headers()['authorization']).toBe(`Bearer ${gateway!.apiKey}`);
    const body = (await response.json()) as {
      data?: { sources: { id: string; kind: string; name: string }[] };
      errors?: unknown;
    };
    expect(body.errors).toBeUndefined();
    expect(body.data?.sources.length).toBeGreaterThan(0);

    const first = body.data!.sources[0]!;
    const text = await waitForResponseText(`"name": "${first.name}"`);
    expect(text).toContain(`"id": "${first.id}"`);
    expect(text).toContain(`"kind": "${first.kind}"`);
    expect(text).not.toContain('"errors"');
  }, 30_000);

  it('runs the People example over HTTP and shows a person merged across sources', async () => {
    const graphqlResponse = page.waitForResponse(
      (response) =>
        response.url() === `${gateway!.url}/graphql` &&
        response.request().method() === 'POST' &&
        (response.request().postData() ?? '').includes('"operationName":"People"'),
    );
    await runOperation('People');
    const response = await graphqlResponse;
    const body = (await response.json()) as {
      data?: { people: { nodes: Array<{ displayName: string | null; participants: Array<{ id: string }> }> } };
      errors?: unknown;
    };
    expect(body.errors).toBeUndefined();
    // The sandbox's demo people (src/sandbox/demoPeople.ts) are the most recently active: Maya is on the first page,
    // with participants of several sources.
    const maya = body.data?.people.nodes.find((p) => p.displayName === DEMO_NAMES.maya);
    expect(maya).toBeDefined();
    const sources = new Set(maya!.participants.map((p) => decodeGlobalId(p.id)?.sourceId));
    expect(sources.size).toBe(4);

    // She is the most recently active person, so the response pane (which renders only its visible lines) opens on
    // her, with her email.
    expect(body.data!.people.nodes[0]!.displayName).toBe(DEMO_NAMES.maya);
    const text = await waitForResponseText(`"displayName": "${DEMO_NAMES.maya}"`);
    expect(text).toContain('"maya.lindqvist@example.com"');
    expect(text).not.toContain('"errors"');
  }, 30_000);

  it('runs the UnreadBadge subscription over graphql-ws, authenticated in connection_init, and shows the first value', async () => {
    await runOperation('UnreadBadge');
    const text = await waitForResponseText('"unreadCountChanged"');
    expect(text).toMatch(/"total": \d+/);
    expect(text).toMatch(/"conversationsWithUnread": \d+/);
    expect(text).not.toContain('"errors"');
    expect(connectionInits).toEqual([{ authorization: `Bearer ${gateway!.apiKey}` }]);

    // While it runs the button stops it; stopping closes the (lazy) socket before the gateway shuts down.
    await page.locator('.graphiql-execute-button').click();
    await page.locator('.graphiql-execute-button[aria-label^="Execute"]').waitFor();
  }, 30_000);

  it('made every request to the gateway itself and logged no console errors', async () => {
    const gatewayHost = new URL(gateway!.url).host;
    expect(gatewayHost).toMatch(/^127\.0\.0\.1:\d+$/);
    // data: URLs (the favicon, fonts inside the CSS) never leave the page.
    const offHost = requested.filter((url) => {
      const parsed = new URL(url);
      if (parsed.protocol === 'data:') return false;
      return !['http:', 'ws:'].includes(parsed.protocol) || parsed.host !== gatewayHost;
    });
    expect(offHost).toEqual([]);
    // The check above must have seen the page's real traffic.
    const paths = requested.map((url) => new URL(url)).map((url) => `${url.protocol}${url.pathname}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        'http:/graphql',
        'http:/graphiql/graphiql.js',
        'http:/graphiql/graphiql.css',
        'http:/graphiql/graphql.worker.js',
        'http:/graphiql/editor.worker.js',
        'ws:/graphql',
      ]),
    );
    expect(consoleErrors).toEqual([]);
  });
});

// The page middleware on its own (no browser, no gateway): negotiation, headers, escaping, the missing-bundle answer.
describe('graphiqlMiddleware page', () => {
  const dirs: string[] = [];
  const servers: http.Server[] = [];

  /** An app with the page in front of a stand-in for Apollo, and a fake bundle unless `bundle` is false. */
  async function serve(defaultHeaders: Record<string, string>, bundle = true): Promise<string> {
    const publicDir = mkdtempSync(path.join(tmpdir(), 'switchboard-graphiql-public-'));
    dirs.push(publicDir);
    if (bundle) writeFileSync(path.join(publicDir, 'graphiql.js'), '/* bundle */');
    const graphiql = graphiqlMiddleware({ graphqlPath: '/graphql', defaultHeaders, publicDir });
    const app = express();
    app.use('/graphiql/', graphiql.static);
    app.use('/graphql', graphiql.page, (_req, res) => {
      res.json({ data: { servedBy: 'graphql' } });
    });
    const server = http.createServer(app);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  function configOf(html: string): unknown {
    const match = /<script id="switchboard-config" type="application\/json">([^<]*)<\/script>/.exec(html);
    if (!match) throw new Error(`no config script in:\n${html}`);
    return JSON.parse(match[1]!);
  }

  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['*/*', '*/*'],
    ['application/json', 'application/json'],
    ['application/graphql-response+json', 'application/graphql-response+json, application/json;q=0.9'],
    ['(none)', undefined],
  ])('passes a GET with Accept %s on to GraphQL', async (_label, accept) => {
    const url = await serve({});
    const response = await fetch(`${url}/graphql?query=%7B__typename%7D`, { headers: accept ? { accept } : {} });
    expect(await response.json()).toEqual({ data: { servedBy: 'graphql' } });
    expect(response.headers.get('vary')).toMatch(/accept/i);
  });

  it('passes a POST that accepts text/html on to GraphQL', async () => {
    const url = await serve({});
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { accept: 'text/html' } });
    expect(await response.json()).toEqual({ data: { servedBy: 'graphql' } });
  });

  it('serves the page to a browser navigation with the config, same-origin assets and a strict CSP', async () => {
    const url = await serve({ Authorization: 'Bearer sandbox-key' });
    const response = await fetch(`${url}/graphql`, {
      headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('vary')).toMatch(/accept/i);
    const host = new URL(url).host;
    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        `font-src 'self' data:; connect-src 'self' ws://${host} wss://${host}; worker-src 'self'; object-src 'none'; ` +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    const html = await response.text();
    expect(configOf(html)).toEqual({
      graphqlPath: '/graphql',
      defaultHeaders: { Authorization: 'Bearer sandbox-key' },
      defaultQuery: EXAMPLE_OPERATIONS,
    });
    expect(html).toContain('<link rel="icon" href="data:,">');
    expect(html).toContain('<script src="/graphiql/graphiql.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/graphiql/graphiql.css">');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('escapes the injected config so a header value cannot close the script element', async () => {
    const hostile = '</script><script>alert(1)</script><!-- & \u2028';
    const url = await serve({ 'X-Hostile': hostile });
    const html = await (await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } })).text();
    expect(html.match(/<\/script>/g)).toHaveLength(2); // the config's and the bundle's own
    expect(html).not.toContain('alert(1)</script>');
    expect(configOf(html)).toMatchObject({ defaultHeaders: { 'X-Hostile': hostile } });
  });

  it('answers 503 naming the build command when the bundle is missing', async () => {
    const url = await serve({}, false);
    const response = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toContain('npm run build:graphiql');
  });

  it('serves bundle files under /graphiql/ and nothing outside the bundle directory', async () => {
    const url = await serve({});
    const asset = await fetch(`${url}/graphiql/graphiql.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(await asset.text()).toBe('/* bundle */');
    expect((await fetch(`${url}/graphiql/%2e%2e/package.json`)).status).toBe(404);
    expect((await fetch(`${url}/graphiql/.build-stamp`)).status).toBe(404);
  });
});
