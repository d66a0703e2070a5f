import { createMonicaConnector } from '../../../../src/connectors/monica';
import type { Connector, ParticipantModel, RequestScope } from '../../../../src/connectors/types';
import type { GatewayError } from '../../../../src/errors';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';
import { startMonicaEmulator } from '../../../../src/sandbox/monica';
import { expectGatewayError } from '../../../utils/errors';
import { vendorConfig } from '../../../utils/vendors';

/** Monica's listContacts (connectors/monica/contacts.ts, issue 15) against the emulator's GET /api/contacts. */

const PATH = '/api/contacts';

describe('Monica listContacts', () => {
  let emu: EmulatorHandle;
  let connector: Connector;
  const open = (scope: RequestScope = { requestId: 'contacts' }) => connector.openSession(scope);

  /** Every page, `first` of each from `sizes` in turn, and the vendor query of each page (one request each). */
  async function walk(sizes: number[], scope?: RequestScope) {
    const session = open(scope);
    const items: ParticipantModel[] = [];
    const queries: Array<Record<string, unknown>> = [];
    let after: string | undefined;
    for (let i = 0; i < 200; i++) {
      const first = sizes[i % sizes.length]!;
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
    emu = await startMonicaEmulator({ port: 0, scale: 2, rateLimitPerMinute: 1_000_000 });
    connector = createMonicaConnector(vendorConfig('MONICA', emu.url, { retries: 0 }));
  });
  afterAll(() => emu.close());
  beforeEach(() => {
    emu.controls.reset();
    emu.setFaults({});
  });

  it('reads `first` contacts a request with their contact fields, so each carries the email and phone loadParticipant gives', async () => {
    const { items, queries } = await walk([3]);
    expect(items.length).toBeGreaterThan(3);
    expect(queries[0]).toEqual({ with: 'contactfields', limit: '3', page: '1' });
    expect(queries.map((q) => q.page)).toEqual(queries.map((_, i) => String(i + 1)));
    expect(queries).toHaveLength(Math.ceil(items.length / 3));
    expect(items.some((p) => p.email !== null)).toBe(true);
    const session = open();
    for (const p of items) expect(await session.loadParticipant(p.nativeId)).toEqual(p);
  });

  it('covers each contact once when `first` changes from page to page', async () => {
    const whole = (await walk([100])).items.map((p) => p.nativeId);
    const { items } = await walk([3, 5, 2]);
    expect(items.map((p) => p.nativeId)).toEqual(whole);
  });

  it('lists no archived contact (Monica lists only active ones)', async () => {
    const whole = (await walk([100])).items.map((p) => p.nativeId);
    const archived = whole[1]!;
    await fetch(`${emu.url}/__sandbox/contacts/${archived}/archive`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ archived: true }),
    });
    expect((await walk([100])).items.map((p) => p.nativeId)).toEqual(whole.filter((id) => id !== archived));
  });

  it('leaves out a row that does not decode and reports it, keeping the rest of the page', async () => {
    const whole = (await walk([100])).items;
    emu.setFaults({ malformedRow: { path: PATH, list: 'data', index: 1, set: { id: 'x' } } });
    const reported: GatewayError[] = [];
    const page = await open({ requestId: 'odd', report: (e) => reported.push(e) }).listContacts!({ first: 100 });
    expect(page.items.map((p) => p.nativeId)).toEqual(whole.filter((_, i) => i !== 1).map((p) => p.nativeId));
    expect(reported).toHaveLength(1);
    expect(reported[0]!.extensions).toMatchObject({ rowId: 'x', what: 'contact page' });
  });

  it('refuses a cursor it did not make and a first outside 1..100, without a request', async () => {
    emu.clearRequests();
    await expectGatewayError(open().listContacts!({ first: 10, after: 'cw1.1.0' }), 'BAD_USER_INPUT');
    await expectGatewayError(open().listContacts!({ first: 0 }), 'BAD_USER_INPUT');
    await expectGatewayError(open().listContacts!({ first: 101 }), 'BAD_USER_INPUT');
    expect(emu.requests()).toHaveLength(0);
  });
});
