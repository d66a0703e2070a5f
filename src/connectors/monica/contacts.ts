import { badInput } from '../../errors';
import { decode } from '../decode';
import type { ContactPage, RequestScope } from '../types';
import { MONICA_MAX_LIMIT, type MonicaClient } from './client';
import { mapContact } from './mapper';
import { monicaContactPage } from './types';

/** `mo1.<offset>`: how many contacts of the list (in its order) earlier pages covered. */
const CURSOR = /^mo1\.(\d{1,9})$/;

function parseCursor(after: string | undefined): number {
  if (after === undefined) return 0;
  const m = CURSOR.exec(after);
  if (!m) throw badInput('The "after" cursor is not a cursor of this source\'s contacts.', 'after');
  return Number(m[1]);
}

/**
 * One page of the account's contacts (connectors/types.ts `listContacts`, issue 15): one
 * `GET /contacts?with=contactfields&limit=<first>&page=<n>` a page (docs/vendors/monica.md "Contacts"), in Monica's
 * default order (created_at ascending, ApiController), so contacts added while paging come at the end. The contact
 * fields give each contact its email and phone, as `loadParticipant` (`GET /contacts/{id}?with=contactfields`) does;
 * the ContactShort inside conversations has none. Ids are the contact ids the conversations' participants carry.
 * Monica lists only real, active contacts (ApiContactController::index `real()->active()`): an archived contact's
 * conversations still name it, and people know it from them. The cursor is an offset: with the same `first` on
 * every page it falls on a page boundary; after a `first` that changed, the vendor page holding the offset is read
 * and the rows before it are skipped (then a row that did not decode may shift that page by one). The last page is
 * the paginator's `meta.last_page`. A row that does not decode is left out and reported (connectors/decode.ts).
 */
export async function listMonicaContacts(
  client: MonicaClient,
  scope: RequestScope,
  opts: { after?: string; first: number },
): Promise<ContactPage> {
  if (!Number.isInteger(opts.first) || opts.first < 1 || opts.first > MONICA_MAX_LIMIT) {
    throw badInput(`"first" must be an integer from 1 to ${MONICA_MAX_LIMIT}.`, 'first');
  }
  const offset = parseCursor(opts.after);
  const limit = opts.first;
  const page = Math.floor(offset / limit) + 1;
  const skip = offset - (page - 1) * limit;
  const body = await client.http.get(scope, '/contacts', { with: 'contactfields', limit, page });
  const list = decode(monicaContactPage, body, client.http.sourceId, 'contact page', scope);
  const items = list.data.slice(skip).map((c) => mapContact(client.http.sourceId, c));
  return { items, next: page < list.meta.last_page ? `mo1.${page * limit}` : null };
}
