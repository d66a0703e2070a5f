import type { ErrorRequestHandler } from 'express';
import { ErrorCode } from '../../errors';
import type { Logger } from '../logger';

/**
 * The last handler: body-parser failures (bad JSON, too large) and anything else thrown on the way as
 * GraphQL-shaped errors, `{ errors: [{ message, extensions: { code } }] }`. 413 is LIMIT_EXCEEDED and names the
 * limit; other 4xx keep their status as BAD_REQUEST; the rest is a logged 500 INTERNAL_SERVER_ERROR.
 */
export function bodyErrors(deps: {
  maxBodyBytes: number;
  logger: Logger;
  onError: (code: string) => void;
}): ErrorRequestHandler {
  return (err: { status?: number; type?: string; message?: string; length?: number }, _req, res, next) => {
    if (res.headersSent) return next(err);
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    const code =
      err.type === 'entity.too.large'
        ? ErrorCode.LIMIT_EXCEEDED
        : status === 500
          ? ErrorCode.INTERNAL_SERVER_ERROR
          : 'BAD_REQUEST';
    const message =
      err.type === 'entity.too.large'
        ? `The request body is ${typeof err.length === 'number' && Number.isFinite(err.length) ? `${err.length} bytes, ` : ''}larger than the limit of ${deps.maxBodyBytes} bytes.`
        : err.type === 'entity.parse.failed'
          ? 'The request body is not valid JSON.'
          : status === 500
            ? 'Internal server error'
            : (err.message ?? 'Bad request');
    if (status === 500) deps.logger.error({ err: String(err.message) }, 'unhandled HTTP error');
    deps.onError(code);
    res.status(status).json({ errors: [{ message, extensions: { code } }] });
  };
}
