import { serveEmulator, type EmulatorHandle, type EmulatorStartOptions } from '../kit/server';
import { mountRoutes } from './routes';
import { seedPixieset } from './seed';
import { PIXIESET_MAX_FILE_SIZE, PIXIESET_SANDBOX_CREDENTIALS, PixiesetState, type PixiesetListOrder } from './state';

export type { PixiesetListOrder };
export { PIXIESET_MAX_FILE_SIZE, PIXIESET_SANDBOX_CREDENTIALS };

/**
 * Emulator of Pixieset Studio's conversation endpoints (seed 000, docs/vendors/pixieset.md), under `/api/v1`, plus the
 * S3-style upload target it signs policies for, under `/storage`.
 */

/** Pixieset's own emulator options: behaviours no document settles (docs/vendors/pixieset.md "Assumptions"). */
export interface PixiesetEmulatorOptions {
  /**
   * The order `GET /conversations/` serves (undocumented). Also settable at run time with
   * `POST /__sandbox/list-order {"order": "..."}`. @default 'inbox' (last_message_at desc)
   */
  listOrder?: PixiesetListOrder;
  /**
   * The largest `page_size` served; larger ones are clamped and `meta.per_page` says so. Undocumented for
   * conversations (`/clients/search` caps at 100). @default 100
   */
  maxPageSize?: number;
}

export async function startPixiesetEmulator(
  opts: EmulatorStartOptions & PixiesetEmulatorOptions = {},
): Promise<EmulatorHandle> {
  const state = new PixiesetState(seedPixieset, opts.scale ?? 1, opts.seed ?? 1);
  const order = { current: opts.listOrder ?? 'inbox', requests: 0 };
  const maxPageSize = opts.maxPageSize ?? 100;
  return serveEmulator(
    'pixieset',
    (app, self) => mountRoutes(app, state, { baseUrl: () => self().url, order, maxPageSize }),
    opts,
  );
}
