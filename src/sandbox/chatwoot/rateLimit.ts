import type { NextFunction, Request, Response } from 'express';

/**
 * Rack::Attack's `req/ip` throttle (docs/vendors/chatwoot.md "Rate limits"): `limit` requests per IP in each fixed
 * minute (`Time.now.to_i / period`), then its default throttled response, a plain-text 429, until the next minute.
 * `now` is the clock the minutes are read from (a test holds it inside one minute, then moves it to the next).
 */
export function rackAttack(limit: number, now: () => number = Date.now) {
  const windows = new Map<string, { window: number; count: number }>();
  const middleware = (req: Request, res: Response, next: NextFunction) => {
    const ip = req.socket.remoteAddress ?? 'unknown';
    const window = Math.floor(now() / 60_000);
    let w = windows.get(ip);
    if (!w || w.window !== window) {
      w = { window, count: 0 };
      windows.set(ip, w);
    }
    w.count++;
    if (w.count > limit) {
      res.status(429).type('text/plain').send('Retry later\n');
      return;
    }
    next();
  };
  return Object.assign(middleware, { reset: () => windows.clear() });
}
