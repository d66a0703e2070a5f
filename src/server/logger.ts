import pino, { type Logger } from 'pino';

/** Paths redacted from every log line (pino `redact`): request and upstream headers, and credentials one level down. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["api_access_token"]',
  'req.headers["x-csrf-token"]',
  'headers.authorization',
  'headers.cookie',
  'connectionParams.authorization',
  '*.token',
  '*.password',
  '*.apiAccessToken',
  '*.sessionCookie',
  '*.csrfToken',
  '*.webhookSecret',
  '*.webhookToken',
  '*.api_access_token',
];

/**
 * Structured JSON logs. Secrets never reach a log line: request and upstream headers that carry them are
 * redacted by path, and connectors never log bodies. The access line of each HTTP request and the debug line of
 * each upstream call carry `requestId` (the client's `X-Request-Id` or a generated one), the same id the
 * vendors receive; see README "Observability".
 */
export function createLogger(opts: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  const logger = pino(loggerOptions(opts.level ?? process.env.LOG_LEVEL ?? 'info'), opts.destination);
  skipRedactionOfScalars(logger);
  return logger;
}

/** pino's options for {@link createLogger} (exported for the test that compares its lines with pino's own). */
export function loggerOptions(level: string): pino.LoggerOptions {
  return { level, base: { service: 'switchboard' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
}

/**
 * pino passes every top-level value of a line through the redactor of the `*.` paths, scalars too: a string, number
 * or boolean has no property to redact, and the redactor answers it with `JSON.stringify` after walking its ten paths
 * on it (about 3 % of a warm read-cache page's CPU, the access line's six scalars; issue 13 target 3). Scalars go to
 * `JSON.stringify` directly (the same bytes); objects, arrays and everything else to pino's redactor as before, so
 * what is redacted is unchanged (test/unit/logger.test.ts compares lines with an unwrapped pino). Nothing is changed
 * when pino's internals are not as expected.
 */
function skipRedactionOfScalars(logger: Logger): void {
  const { stringifiersSym, wildcardFirstSym } = pino.symbols as unknown as Record<string, symbol | undefined>;
  if (!stringifiersSym || !wildcardFirstSym) return;
  const stringifiers = (logger as unknown as Record<symbol, Record<symbol, unknown> | undefined>)[stringifiersSym];
  const redact = stringifiers?.[wildcardFirstSym];
  if (typeof redact !== 'function') return;
  stringifiers![wildcardFirstSym] = (value: unknown, ...rest: unknown[]): unknown => {
    const t = typeof value;
    if (t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(value))) return JSON.stringify(value);
    return (redact as (value: unknown, ...rest: unknown[]) => unknown)(value, ...rest);
  };
}
export type { Logger };
