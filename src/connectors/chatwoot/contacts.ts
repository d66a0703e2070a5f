import { badInput } from '../../errors';
import { decode } from '../decode';
import type { ContactPage, RequestScope } from '../types';
import type { ChatwootClient } from './client';
import { mapContact, type ChatwootMapContext } from './mapper';
import { chatwootContactList } from './types';

/**
 * docs/vendors/chatwoot.md "Contacts": `GET /contacts` answers `RESULTS_PER_PAGE = 15` contacts a page, a constant
 * of contacts_controller.rb (line 12), not a setting: no request can change it.
 */
export const CHATWOOT_CONTACTS_PER_PAGE = 15;
/** Largest `first` of {@link listChatwootContacts} (the connector contract's). */
export const CONTACTS_FIRST_MAX = 100;

/** `cw1.<page>.<skip>`: the vendor page to read and how many of its decoded rows earlier pages already returned. */
const CURSOR = /^cw1\.([1-9]\d{0,8})\.(\d{1,3})$/;

function parseCursor(after: string | undefined): { page: number; skip: number } {
  if (after === undefined) return { page: 1, skip: 0 };
  const m = CURSOR.exec(after);
  if (!m) throw badInput('The "after" cursor is not a cursor of this source\'s contacts.', 'after');
  return { page: Number(m[1]), skip: Number(m[2]) };
}

const cursor = (page: number, skip: number) => `cw1.${page}.${skip}`;

/**
 * One page of the account's contacts (connectors/types.ts `listContacts`, issue 15): one `GET /contacts` a page,
 * oldest first (`sort=created_at`, so contacts created while paging come at the end and nothing shifts), without the
 * contact inboxes (`include_contact_inboxes=false`, which the people do not need). The vendor's page is 15 rows
 * whatever `first` asks: a `first` below 15 returns part of a vendor page and the cursor remembers where in it the
 * next page starts (that vendor page is read again); a larger one returns the 15. The last page is known from
 * `meta.count`, the total. Contacts are mapped as the conversations' `meta.sender` is (`contact:<id>`, email, phone
 * number). Chatwoot lists only "resolved" contacts (an email, a phone number or an identifier, contact.rb
 * `resolved_contacts`): anonymous widget visitors are not listed, and people know them from their conversations.
 * A row that does not decode is left out and reported (connectors/decode.ts `rowsOf`).
 */
export async function listChatwootContacts(
  client: ChatwootClient,
  scope: RequestScope,
  ctx: ChatwootMapContext,
  opts: { after?: string; first: number },
): Promise<ContactPage> {
  if (!Number.isInteger(opts.first) || opts.first < 1 || opts.first > CONTACTS_FIRST_MAX) {
    throw badInput(`"first" must be an integer from 1 to ${CONTACTS_FIRST_MAX}.`, 'first');
  }
  const { page, skip } = parseCursor(opts.after);
  const body = await client.http.get(scope, '/contacts', {
    page,
    sort: 'created_at',
    include_contact_inboxes: 'false',
  });
  const list = decode(chatwootContactList, body, ctx.sourceId, 'contact list', scope);
  const end = skip + opts.first;
  const items = list.payload.slice(skip, end).map((c) => mapContact(ctx, c));
  let next: string | null;
  if (end < list.payload.length) next = cursor(page, end);
  else next = page * CHATWOOT_CONTACTS_PER_PAGE < list.meta.count ? cursor(page + 1, 0) : null;
  return { items, next };
}
