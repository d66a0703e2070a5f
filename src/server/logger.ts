import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs. Secrets never reach a log line: request and upstream headers that carry them are
 * redacted by path, and connectors never log bodies.
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
        ],
        censor: '[redacted]',
      },
    },
    opts.destination,
  );
}
export type { Logger };
