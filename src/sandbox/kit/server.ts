import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';

/** One entry of an emulator's request log (the vendor's own paths only, never `/__sandbox/`). */
export interface RequestLogEntry {
  method: string;
  path: string;
  query: Record<string, unknown>;
  status: number;
  at: number;
  /** Time from arrival to the answer's last byte, added latency included (set once answered; benchmarks). */
  ms?: number;
  /** Only `x-request-id` (when sent), so tests can follow a request id; never credentials. */
  headers: { 'x-request-id'?: string };
  /** The request's Content-Type, when it had one (which body encoding a client used). */
  contentType?: string;
  /** A vendor route may record the raw body here (e.g. Protocol's form-encoded writes), via `res.locals.requestLog`. */
  body?: string;
}

/**
 * Fault knobs, set through `POST /__sandbox/faults` (issue 6 drives them from tests).
 * They apply to the vendor's own paths only.
 */
export interface Faults {
  /** Added latency per request, in ms. */
  latencyMs?: number;
  /** Fraction (0..1) of requests answered with HTTP 500. */
  errorRate?: number;
  /** Never answer. */
  hang?: boolean;
  /** Answer 429 with this Retry-After (seconds). */
  rateLimitRetryAfter?: number;
  /** Answer 200 with a truncated JSON body. */
  malformed?: boolean;
  /** Destroy the socket without answering. */
  refuse?: boolean;
  /**
   * Answer these exact vendor paths (as the request log shows them) with this HTTP status and an `{error}` JSON
   * body, any method; other paths are served. One id fails while its batch-mates succeed (contract suite).
   */
  statusByPath?: Record<string, number>;
  /**
   * Answer these exact vendor paths with this status and JSON body, any method (a vendor-shaped validation error:
   * Chatwoot's `{message, attributes}`, Protocol's `{type, message}`, Pixieset's `{error, code}`, Monica's
   * `{error: {message, error_code}}`); other paths are served.
   */
  responseByPath?: Record<string, { status: number; body: unknown }>;
  /**
   * Spoil one row of a list answer (issue 12 item 14): on this exact path, the array at the dotted `list` of the
   * JSON body (`data.payload`, `payload`, `data`) has the fields of its `index`th row replaced by `set` (e.g.
   * `{"sender": {}}` or a string `created_at`); every other row and path is served as is.
   */
  malformedRow?: { path: string; list: string; index: number; set: Record<string, unknown> };
  /**
   * Spoil one object of a single-object answer (brief D gap 2: a conversation detail, a send's answer): on this
   * exact path (and `method`, when given), the object at the dotted `at` of the JSON body (`data`,
   * `data.contact`, `meta`; the body itself without `at`; numbers index arrays) has the fields of `set` replaced
   * (e.g. `{"sender": {}}`); other paths, and answers without that object, are served as is.
   */
  malformedObject?: { path: string; method?: string; at?: string; set: Record<string, unknown> };
  /**
   * The write happens, the answer fails (issue 12 item 16): a request of this `method` whose path matches
   * `path` (a regular expression's source, anchored by the caller) is served by the vendor's route as usual,
   * state changes included; then, if the route answered with success, the answer is replaced by this `status`
   * with an `{error}` JSON body, or never sent (`hang`), or the socket is destroyed without an answer (`reset`).
   * Only the first `times` matching requests (default every one). Error answers of the route go out unchanged.
   */
  failAfterWrite?: { method: string; path: string; status?: number; hang?: boolean; reset?: boolean; times?: number };
}

/** What each vendor emulator adds to the shared control API. */
export interface VendorControls {
  /** Back to the seeded demo data. */
  reset(): void;
  /** A client writes into a conversation (a random one when no id is given); returns the vendor's message. */
  simulateIncoming(input: { conversationId?: string; content?: string }): unknown;
  /** Somebody reads the conversation in the vendor's own UI (no-op for vendors without read state). */
  simulateRead(input: { conversationId: string }): unknown;
  /** The vendor's own unread state, to compare with what the gateway pushes. */
  unreadState(): { total: number; conversationsWithUnread: number } | null;
}

export interface EmulatorHandle {
  readonly name: string;
  /** Base URL of the server, e.g. `http://127.0.0.1:4101` (vendor paths are below it). */
  readonly url: string;
  requests(): RequestLogEntry[];
  clearRequests(): void;
  setFaults(f: Faults): void;
  readonly controls: VendorControls;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** @default 127.0.0.1 */
  host?: string;
  faults?: Faults;
}

/** What every vendor emulator's start function accepts. */
export interface EmulatorStartOptions extends ServeOptions {
  /** Demo dataset size multiplier. @default 1 */
  scale?: number;
  /** PRNG seed for the demo data. @default 1 */
  seed?: number;
  /** Where to post webhooks (vendors that send them); read at delivery time. */
  webhook?: () => { url: string; secret?: string } | null;
  /** Override the vendor's own rate limit (requests a minute), e.g. for load tests. @default the vendor's */
  rateLimitPerMinute?: number;
}

/**
 * Serves a vendor emulator: a request log, fault knobs and the `/__sandbox/` control API in front of the
 * vendor's own routes (`mount`). Control API:
 * - `GET /__sandbox/requests`, `DELETE /__sandbox/requests`
 * - `POST /__sandbox/reset`
 * - `POST /__sandbox/simulate/incoming` `{conversationId?, content?}`
 * - `POST /__sandbox/simulate/read` `{conversationId}`
 * - `GET /__sandbox/unread`
 * - `POST /__sandbox/faults` (a Faults object; `{}` clears)
 */
export async function serveEmulator(
  name: string,
  mount: (app: Express, self: () => EmulatorHandle) => VendorControls,
  opts: ServeOptions = {},
): Promise<EmulatorHandle> {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const log: RequestLogEntry[] = [];
  let faults: Faults = { ...opts.faults };
  const sockets = new Set<Socket>();

  app.use('/__sandbox', express.json());
  app.get('/__sandbox/requests', (_req, res) => {
    res.json(log);
  });
  app.delete('/__sandbox/requests', (_req, res) => {
    log.length = 0;
    res.status(204).end();
  });
  app.post('/__sandbox/reset', (_req, res) => {
    controls.reset();
    log.length = 0;
    faults = {};
    res.status(204).end();
  });
  app.post('/__sandbox/simulate/incoming', (req, res) => {
    res.status(201).json(controls.simulateIncoming(req.body ?? {}));
  });
  app.post('/__sandbox/simulate/read', (req, res) => {
    res.json(controls.simulateRead(req.body ?? {}) ?? null);
  });
  app.get('/__sandbox/unread', (_req, res) => {
    res.json(controls.unreadState());
  });
  app.post('/__sandbox/faults', (req, res) => {
    faults = { ...(req.body as Faults) };
    res.json(faults);
  });

  // Request log and faults for the vendor's paths.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (req.path.startsWith('/__sandbox')) return next();
    const requestId = req.get('x-request-id');
    const entry: RequestLogEntry = {
      method: req.method,
      path: req.path,
      query: { ...req.query },
      status: 0,
      at: Date.now(),
      headers: requestId === undefined ? {} : { 'x-request-id': requestId },
      ...(req.get('content-type') ? { contentType: req.get('content-type') } : {}),
    };
    res.locals.requestLog = entry;
    log.push(entry);
    if (log.length > 100_000) log.splice(0, log.length - 50_000);
    const started = performance.now();
    res.on('finish', () => {
      entry.status = res.statusCode;
      entry.ms = performance.now() - started;
    });
    const f = faults;
    if (f.refuse) {
      req.socket.destroy();
      return;
    }
    if (f.hang) return;
    const after = f.failAfterWrite;
    if (after && req.method === after.method.toUpperCase() && new RegExp(after.path).test(req.path)) {
      if (after.times === undefined || after.times > 0) {
        if (after.times !== undefined) after.times--;
        failAnswerAfterWrite(req, res, after);
      }
    }
    const go = () => {
      if (f.rateLimitRetryAfter !== undefined) {
        res.status(429).set('retry-after', String(f.rateLimitRetryAfter)).type('text/plain').send('Retry later\n');
        return;
      }
      const spoil = f.malformedRow;
      if (spoil && spoil.path === req.path) {
        const json = res.json.bind(res);
        res.json = (served: unknown) => {
          const body = structuredClone(served);
          let list: unknown = body;
          for (const k of spoil.list.split('.')) list = (list as Record<string, unknown> | undefined)?.[k];
          const row = Array.isArray(list) ? (list[spoil.index] as Record<string, unknown> | undefined) : undefined;
          if (row && typeof row === 'object') Object.assign(row, structuredClone(spoil.set));
          return json(body);
        };
      }
      const spoilObject = f.malformedObject;
      if (spoilObject && spoilObject.path === req.path && (!spoilObject.method || spoilObject.method === req.method)) {
        const json = res.json.bind(res);
        res.json = (served: unknown) => {
          const body = structuredClone(served);
          let target: unknown = body;
          for (const k of spoilObject.at ? spoilObject.at.split('.') : [])
            target = (target as Record<string, unknown> | undefined)?.[k];
          if (target && typeof target === 'object') Object.assign(target, structuredClone(spoilObject.set));
          return json(body);
        };
      }
      const canned = f.responseByPath?.[req.path];
      if (canned !== undefined) {
        res.status(canned.status).json(canned.body);
        return;
      }
      const status = f.statusByPath?.[req.path];
      if (status !== undefined) {
        res.status(status).json({ error: `Fault injected: HTTP ${status}` });
        return;
      }
      if (f.errorRate && Math.random() < f.errorRate) {
        res.status(500).json({ error: 'Internal Server Error' });
        return;
      }
      if (f.malformed) {
        res.status(200).type('application/json').send('{"data": [{"id": "trunc');
        return;
      }
      next();
    };
    if (f.latencyMs) setTimeout(go, f.latencyMs);
    else go();
  });

  // eslint-disable-next-line prefer-const -- assigned below, read lazily by the routes mounted first
  let handle!: EmulatorHandle;
  const controls = mount(app, () => handle);

  const server: Server = createServer(app);
  server.keepAliveTimeout = 5000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  handle = {
    name,
    url,
    controls,
    requests: () => [...log],
    clearRequests: () => {
      log.length = 0;
    },
    setFaults: (f) => {
      faults = { ...f };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return handle;
}

/** Lets the route run, then spoils its successful answer ({@link Faults.failAfterWrite}). */
function failAnswerAfterWrite(req: Request, res: Response, f: NonNullable<Faults['failAfterWrite']>): void {
  const end = res.end.bind(res) as (chunk?: unknown) => Response;
  res.end = ((...args: unknown[]) => {
    if (res.statusCode >= 400 || res.headersSent) return (end as (...a: unknown[]) => Response)(...args);
    if (f.reset) {
      req.socket.destroy();
      return res;
    }
    if (f.hang) return res; // the write is done; no answer ever comes (the socket stays open until close())
    const status = f.status ?? 500;
    const body = JSON.stringify({ error: `Fault injected after the write: HTTP ${status}` });
    res.statusCode = status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(body));
    return end(body);
  }) as Response['end'];
}

/** Fire-and-forget webhook delivery, as vendors do it (a POST with a JSON body and a short timeout). */
export function deliverWebhook(url: string, body: string, headers: Record<string, string> = {}): void {
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    signal: AbortSignal.timeout(5000),
  }).catch(() => {
    // Vendors do not retry (Chatwoot: docs/vendors/chatwoot.md); a lost delivery is the receiver's problem.
  });
}

/** The control API's unread state: the sum of each conversation's unread messages, and how many have any. */
export function sumUnread<C>(
  conversations: Iterable<C>,
  unreadOf: (c: C) => number,
): { total: number; conversationsWithUnread: number } {
  let total = 0;
  let conversationsWithUnread = 0;
  for (const c of conversations) {
    const n = unreadOf(c);
    total += n;
    if (n > 0) conversationsWithUnread++;
  }
  return { total, conversationsWithUnread };
}
