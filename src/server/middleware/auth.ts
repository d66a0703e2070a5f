import type { RequestHandler } from 'express';
import { ErrorCode } from '../../errors';
import type { Authenticator } from '../auth';

/**
 * `res.locals.viewer` from `Authorization: Bearer <key>`; without a valid key, 401 with `WWW-Authenticate: Bearer`
 * and an UNAUTHENTICATED error (counted through `onRefused`).
 */
export function auth(authenticate: Authenticator, onRefused: (code: string) => void): RequestHandler {
  return (req, res, next) => {
    const viewer = authenticate(req.get('authorization'));
    if (!viewer) {
      onRefused(ErrorCode.UNAUTHENTICATED);
      res
        .status(401)
        .set('www-authenticate', 'Bearer')
        .json({
          errors: [
            {
              message: 'A valid API key is required: send "Authorization: Bearer <key>".',
              extensions: { code: ErrorCode.UNAUTHENTICATED },
            },
          ],
        });
      return;
    }
    res.locals.viewer = viewer;
    next();
  };
}
