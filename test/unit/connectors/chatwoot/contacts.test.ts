import { createChatwootConnector } from '../../../../src/connectors/chatwoot';
import type { Connector, ParticipantModel, RequestScope } from '../../../../src/connectors/types';
import type { GatewayError } from '../../../../src/errors';
import { CHATWOOT_SANDBOX_ACCOUNT_ID, startChatwootEmulator } from '../../../../src/sandbox/chatwoot';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';
import { expectGatewayError } from '../../../utils/errors';
import { vendorConfig } from '../../../utils/vendors';

/** Chatwoot's listContacts (connectors/chatwoot/contacts.ts, issue 15) against the emulator's GET /contacts. */

const PATH = `/api/v1/accounts/${CHATWOOT_SANDBOX_ACCOUNT_ID}/contacts`;

describe('Chatwoot listContacts', () => {
  let emu: EmulatorHandle;
  let connector: Connector;
  const open = (scope: RequestScope = { requestId: 'contacts' }) => connector.openSession(scope);

  /** Every page with this `first`, and the vendor requests each page cost. */
  async function walk(first: number, scope?: RequestScope) {
    const session = open(scope);
    const items: ParticipantModel[] = [];
    const queries: Array<Record<string, unknown>> = [];
    let after: string | undefined;
    for (let i = 0; i < 200; i++) {
      emu.clearRequests();
      const page = await session.listContacts!({ after, first });
      expect(emu.requests().map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${PATH}`]);
      queries.push(emu.requests()[0]!.query);
      expect(page.items.length).toBeLessThanOrEqual(first);
      items.push(...page.items);
      if (!page.next) return { items, queries };
      after = page.next;
    }
    throw new Error('too many pages');
  }

  beforeAll(async () => {
    emu = await startChatwootEmulator({ port: 0, scale: 3 });
    connector = createChatwootConnector(vendorConfig('CHATWOOT', emu.url, { retries: 0 }));
  });
  afterAll(() => emu.close());
  beforeEach(() => {
    emu.controls.reset();
    emu.setFaults({});
  });

  it('reads one vendor page of 15 a request, oldest first, without contact inboxes, until meta.count', async () => {
    const { items, queries } = await walk(100);
    const total = (
      (await (
        await fetch(`${emu.url}${PATH}`, {
          headers: { api_access_token: vendorConfig('CHATWOOT', emu.url).credentials.apiAccessToken },
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
    emu.setFaults({ malformedRow: { path: PATH, list: 'payload', index: 2, set: { id: 'not-a-number' } } });
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

  it('refuses a cursor it did not make and a first outside 1..100, without a request', async () => {
    emu.clearRequests();
    await expectGatewayError(open().listContacts!({ first: 10, after: 'mo1.10' }), 'BAD_USER_INPUT');
    await expectGatewayError(open().listContacts!({ first: 0 }), 'BAD_USER_INPUT');
    await expectGatewayError(open().listContacts!({ first: 101 }), 'BAD_USER_INPUT');
    expect(emu.requests()).toHaveLength(0);
  });
});
