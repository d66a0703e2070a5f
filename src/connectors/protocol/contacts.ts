import { badInput } from '../../errors';
import { decode } from '../decode';
import type { ContactPage, RequestScope } from '../types';
import { PAGE_MAX, type ProtocolClient } from './client';
import { mapContact } from './mapper';
import { protocolContact, protocolList } from './types';

/** `pr1.<id>`: the id of the last contact of the previous page, the vendor's `starting_after`. */
const CURSOR = /^pr1\.([A-Za-z0-9]{1,64})$/;

function parseCursor(after: string | undefined): string | undefined {
  if (after === undefined) return undefined;
  const m = CURSOR.exec(after);
  if (!m) throw badInput('The "after" cursor is not a cursor of this source\'s contacts.', 'after');
  return m[1];
}

/** The id of the last row of a list body as sent, so that a last row that did not decode is still stepped over. */
function lastRawId(body: unknown): string | null {
  const data = body && typeof body === 'object' ? (body as { data?: unknown }).data : undefined;
  const last: unknown = Array.isArray(data) ? data[data.length - 1] : undefined;
  const id = last && typeof last === 'object' ? (last as { id?: unknown }).id : undefined;
  return typeof id === 'string' && /^[A-Za-z0-9]{1,64}$/.test(id) ? id : null;
}

/**
 * One page of the account's contacts (connectors/types.ts `listContacts`, issue 15): one
 * `GET /v1/contacts?limit=<first>&starting_after=<id>` a page (docs/vendors/protocol.md "Contacts", the pagination
 * page: cursor on object ids, `has_more`, `limit` at most 100). Contacts are mapped as the conversations' participants
 * are (the contact id, `phone_number`; Protocol has no email). The configured self contact is the API user, an AGENT
 * participant, so it is left out: a page can hold one contact fewer than the vendor sent (and, with `first: 1`, none
 * while `next` is not null). A row that does not decode is left out and reported (connectors/decode.ts), and the
 * next page still starts after it.
 */
export async function listProtocolContacts(
  client: ProtocolClient,
  scope: RequestScope,
  selfContactId: string | null,
  opts: { after?: string; first: number },
): Promise<ContactPage> {
  if (!Number.isInteger(opts.first) || opts.first < 1 || opts.first > PAGE_MAX) {
    throw badInput(`"first" must be an integer from 1 to ${PAGE_MAX}.`, 'first');
  }
  const after = parseCursor(opts.after);
  const query = after === undefined ? { limit: opts.first } : { limit: opts.first, starting_after: after };
  const body = await client.http.get(scope, '/contacts', query);
  const sourceId = client.http.sourceId;
  const list = decode(protocolList(protocolContact), body, sourceId, 'contact list', scope);
  const items = list.data.map((c) => mapContact(sourceId, c, selfContactId)).filter((p) => p.kind === 'CONTACT');
  const last = lastRawId(body) ?? list.data[list.data.length - 1]?.id ?? null;
  return { items, next: list.has_more && last !== null ? `pr1.${last}` : null };
}
