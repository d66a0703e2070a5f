import type { GatewayError } from '../../../../src/errors';
import { CHATWOOT_SANDBOX_ACCOUNT_ID } from '../../../../src/sandbox/chatwoot';
import { contactsFixture, itRefusesForeignCursorsAndBadSizes } from '../../../utils/contacts';
import { vendorConfig } from '../../../utils/vendors';

/** Chatwoot's listContacts (connectors/chatwoot/contacts.ts, issue 15) against the emulator's GET /contacts. */

const PATH = `/api/v1/accounts/${CHATWOOT_SANDBOX_ACCOUNT_ID}/contacts`;

describe('Chatwoot listContacts', () => {
  const fx = contactsFixture('CHATWOOT', PATH, { scale: 3 });
  const { open, walk } = fx;

  it('reads one vendor page of 15 a request, oldest first, without contact inboxes, until meta.count', async () => {
    const { items, queries } = await walk(100);
    const total = (
      (await (
        await fetch(`${fx.emu.url}${PATH}`, {
          headers: { api_access_token: vendorConfig('CHATWOOT', fx.emu.url).credentials.apiAccessToken },
        })
      ).json()) as { meta: { count: number } }
    ).meta.count;
    expect(items).toHaveLength(total);
    expect(queries).toHaveLength(Math.ceil(total / 15));
    expect(queries[0]).toEqual({ page: '1', sort: 'created_at', include_contact_inboxes: 'false' });
    expect(queries.map((q) => q.page)).toEqual(queries.map((_, i) => String(i + 1)));
    expect(items.every((p) => /^contact:\d+$/.test(p.nativeId) && p.kind === 'CONTACT')).toBe(true);
  });

  it('returns a page smaller than the vendor page by reading that page again, each contact once', async () => {
    const whole = (await walk(100)).items.map((p) => p.nativeId);
    const { items, queries } = await walk(4);
    expect(items.map((p) => p.nativeId)).toEqual(whole);
    // 15 rows a vendor page, 4 a page: pages 1..4 of the gateway read vendor page 1 (4+4+4+3).
    expect(queries.slice(0, 5).map((q) => q.page)).toEqual(['1', '1', '1', '1', '2']);
  });

  it('leaves out a row that does not decode and reports it, keeping the rest of the page', async () => {
    const whole = (await walk(100)).items;
    fx.emu.setFaults({ malformedRow: { path: PATH, list: 'payload', index: 2, set: { id: 'not-a-number' } } });
    const reported: GatewayError[] = [];
    const page = await open({ requestId: 'odd', report: (e) => reported.push(e) }).listContacts!({ first: 100 });
    expect(page.items.map((p) => p.nativeId)).toEqual(
      whole
        .slice(0, 15)
        .filter((_, i) => i !== 2)
        .map((p) => p.nativeId),
    );
    expect(reported).toHaveLength(1);
    expect(reported[0]!.code).toBe('SOURCE_BAD_RESPONSE');
    expect(reported[0]!.extensions).toMatchObject({ rowId: 'not-a-number', what: 'contact list' });
    expect(page.next).not.toBeNull();
  });

  itRefusesForeignCursorsAndBadSizes(fx, 'mo1.10');
});
