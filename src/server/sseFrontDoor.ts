import type { IncomingMessage, ServerResponse } from 'node:http';
import contentType from 'content-type';
import { TOKEN_HEADER_KEY } from 'graphql-sse';
import { ErrorCode } from '../errors';
import type { Authenticator } from './auth';
import type { Logger } from './logger';
import { logAccess } from './metrics';
import { requestIdOf } from './middleware/requestId';
import { acceptsEventStream, type GraphQLSse } from './sse';

export interface SseFrontDoorOptions {
  sse: GraphQLSse;
  /** The GraphQL endpoint's path (exactly: anything else goes to Express). */
  path: string;
  authenticate: Authenticator;
  /** The JSON body limit (`server.maxBodyBytes`), as `express.json` applies it. */
  maxBodyBytes: number;
  logger: Logger;
  /** Counts an error code answered here (the `switchboard_errors_total` counter). */
  countError: (code: string) => void;
}

/**
 * # Event streams answered before Express
 *
 * The common case of GraphQL over SSE, a `POST /graphql` with `Accept: text/event-stream`, a JSON body and a valid
 * API key (graphql-sse's distinct connections mode: one stream per operation, held open for a subscription's
 * life), is answered from Node's HTTP server before Express sees it: the same graphql-sse handler and operation
 * rules (server/sse.ts {@link GraphQLSse.serve}), the same request id, access log line, API key and body rules
 * as the Express chain (`requestId`, `accessLog`, `auth`, `express.json`), without Express's per-request work
 * an open stream would hold: its router's closures and parsed URL, and the hidden classes V8 builds for each
 * request and response after Express changes their prototypes (server/httpShapes.ts; issue 14, memory per SSE
 * subscriber).
 *
 * Only the plain case takes this door; everything else goes to Express as before, which answers it as it always
 * has: another path or method, a token (single connection mode), no or a bad API key (401), no JSON content type,
 * another charset, a compressed body, no `Content-Length`, an empty body or one above the limit (413), and every
 * request while the gateway closes (503). A body that is not JSON (strict, as `express.json`: an object or an
 * array) is answered here as Express's body error handler answers it: 400 BAD_REQUEST, "The request body is not
 * valid JSON.". Tests: test/server/sse-front-door.test.ts (each case, both doors).
 *
 * Returns whether it took the request.
 */
export function sseFrontDoor(opts: SseFrontDoorOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { sse, path, authenticate, maxBodyBytes, logger, countError } = opts;
  return (req, res) => {
    const h = req.headers;
    if (req.method !== 'POST' || req.url !== path || !acceptsEventStream(req) || h[TOKEN_HEADER_KEY] !== undefined)
      return false;
    if (!isPlainJson(h['content-type']) || (h['content-encoding'] && h['content-encoding'] !== 'identity'))
      return false;
    const length = Number(h['content-length']);
    if (!Number.isInteger(length) || length <= 0 || length > maxBodyBytes) return false;
    const viewer = authenticate(h.authorization);
    if (!viewer) return false;

    const requestId = requestIdOf(singleHeader(h['x-request-id']));
    res.setHeader('x-request-id', requestId);
    logAccess(logger, 'POST', path, res, { requestId, viewer });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      chunks.length = 0;
      let body: unknown;
      try {
        // Strict, as express.json: an object or an array.
        const first = text.trimStart()[0];
        if (first !== '{' && first !== '[') throw new SyntaxError('not an object or array');
        body = JSON.parse(text);
      } catch {
        countError('BAD_REQUEST');
        answerJson(res, 400, 'The request body is not valid JSON.', 'BAD_REQUEST');
        return;
      }
      const served = sse.serve(
        {
          method: 'POST',
          url: path,
          header(name) {
            return singleHeader(h[name.toLowerCase()]);
          },
          body: body as Record<string, unknown>,
          viewer,
          requestId,
          publicBaseUrl: `${(req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'}://${h.host ?? '127.0.0.1'}`,
          raw: req,
        },
        res,
      );
      if (served === null) {
        res.writeHead(503, { connection: 'close' }).end();
        return;
      }
      served.catch((e: unknown) => {
        // As Express's last handler answers what was thrown on the way (server/middleware/bodyErrors.ts).
        logger.error({ err: String(e instanceof Error ? e.message : e) }, 'unhandled HTTP error');
        countError(ErrorCode.INTERNAL_SERVER_ERROR);
        if (!res.headersSent) answerJson(res, 500, 'Internal server error', ErrorCode.INTERNAL_SERVER_ERROR);
        else res.destroy();
      });
    });
    return true;
  };
}

/** `application/json`, with no charset or UTF-8 (what express.json reads without a conversion). */
function isPlainJson(header: string | undefined): boolean {
  if (!header) return false;
  try {
    const { type, parameters } = contentType.parse(header);
    return type === 'application/json' && (parameters.charset ?? 'utf-8').toLowerCase() === 'utf-8';
  } catch {
    // Malformed: Express's body parser answers it.
    return false;
  }
}

function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function answerJson(res: ServerResponse, status: number, message: string, code: string): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
