import { serveEmulator, type EmulatorHandle, type EmulatorStartOptions } from '../kit/server';
import { mountRoutes } from './routes';
import { seedMonica } from './seed';
import { MONICA_SANDBOX_TOKEN, MonicaState } from './state';

export { MONICA_ARCHIVED_MESSAGE, laravelDateTime } from './routes';
export { MONICA_SANDBOX_TOKEN };

/**
 * Emulator of the Monica 4.x REST API (seed 003, docs/vendors/monica.md) under `/api`: Passport Bearer auth, Laravel
 * pagination and validation, Monica's error envelope, and its throttle (60 requests a minute per token). Each write
 * follows the order of checks of Monica's controller and service at 4.x 32028ce3c (validation with `exists:` before
 * `findOrFail`, then `Contact::throwInactive`), so unknown ids and archived contacts answer as Monica does.
 *
 * Control routes beside the shared ones (kit/server.ts):
 * - `POST /__sandbox/contacts/:id/archive` `{"archived"?: boolean}` (default: toggle): archive in the web UI.
 * - `POST /__sandbox/conversations/:id/dashboard-edit` `{"happenedOn"?, "contactFieldTypeId"?, "messages"?}`: an
 *   edit in Monica's web UI, which re-creates every message with a new id (MonicaState.dashboardEdit).
 */

/** docs/vendors/monica.md "Rate limit": RATE_LIMIT_PER_MINUTE_API. */
export const MONICA_RATE_LIMIT_PER_MINUTE = 60;
/** Options of the Monica emulator beside the shared ones. */
export interface MonicaEmulatorOptions {
  /**
   * The account user's locale, which Monica's `locale` middleware (CheckLocale @32028ce3c) applies to validation
   * messages; `?lang=` overrides it per request. Only `en` and `fr` texts are emulated. @default 'en'
   */
  locale?: 'en' | 'fr';
}

export async function startMonicaEmulator(
  opts: EmulatorStartOptions & MonicaEmulatorOptions = {},
): Promise<EmulatorHandle> {
  const state = new MonicaState(seedMonica, opts.scale ?? 1, opts.seed ?? 1);
  if (opts.locale) state.user.locale = opts.locale;
  const limit = opts.rateLimitPerMinute ?? MONICA_RATE_LIMIT_PER_MINUTE;
  return serveEmulator(
    'monica',
    (app, self) =>
      mountRoutes(app, state, { rateLimitPerMinute: limit, baseUrl: () => self().url, locale: opts.locale ?? 'en' }),
    opts,
  );
}
