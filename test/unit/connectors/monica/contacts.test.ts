import type { GatewayError } from '../../../../src/errors';
import { contactsFixture, itRefusesForeignCursorsAndBadSizes } from '../../../utils/contacts';

/** Monica's listContacts (connectors/monica/contacts.ts, issue 15) against the emulator's GET /api/contacts. */

const PATH = '/api/contacts';

describe('Monica listContacts', () => {
  const fx = contactsFixture('MONICA', PATH, { scale: 2, rateLimitPerMinute: 1_000_000 });
  const { open, walk } = fx;

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
    await fetch(`${fx.emu.url}/__sandbox/contacts/${archived}/archive`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ archived: true }),
    });
    expect((await walk([100])).items.map((p) => p.nativeId)).toEqual(whole.filter((id) => id !== archived));
  });

  it('leaves out a row that does not decode and reports it, keeping the rest of the page', async () => {
    const whole = (await walk([100])).items;
    fx.emu.setFaults({ malformedRow: { path: PATH, list: 'data', index: 1, set: { id: 'x' } } });
    const reported: GatewayError[] = [];
    const page = await open({ requestId: 'odd', report: (e) => reported.push(e) }).listContacts!({ first: 100 });
    expect(page.items.map((p) => p.nativeId)).toEqual(whole.filter((_, i) => i !== 1).map((p) => p.nativeId));
    expect(reported).toHaveLength(1);
    expect(reported[0]!.extensions).toMatchObject({ rowId: 'x', what: 'contact page' });
  });

  itRefusesForeignCursorsAndBadSizes(fx, 'cw1.1.0');
});
