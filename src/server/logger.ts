import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs. Secrets never reach a log line: request and upstream headers that carry them are
 * redacted by path, and connectors never log bodies. The access line of each HTTP request and the debug line of
 * each upstream call carry `requestId` (the client's `X-Request-Id` or a generated one), the same id the
 * vendors receive; see README "Observability".
 */
export function createLogger(opts: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'switchboard' },
      redact: {
        paths: [
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
        ],
        censor: '[redacted]',
      },
    },
    opts.destination,
  );
}
export type { Logger };
