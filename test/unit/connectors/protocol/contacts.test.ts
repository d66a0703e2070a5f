import type { GatewayError } from '../../../../src/errors';
import { PROTOCOL_SANDBOX_SELF_CONTACT_ID as SELF } from '../../../../src/sandbox/protocol';
import { contactsFixture, itRefusesForeignCursorsAndBadSizes } from '../../../utils/contacts';

/** Protocol's listContacts (connectors/protocol/contacts.ts, issue 15) against the emulator's GET /v1/contacts. */

const PATH = '/v1/contacts';

describe('Protocol listContacts', () => {
  const fx = contactsFixture('PROTOCOL', PATH, { scale: 2, rateLimitPerMinute: 100_000 });
  const { open, walk } = fx;

  it('pages with limit and starting_after (the last id of the page before), leaving the self contact out', async () => {
    const { items, queries } = await walk(5);
    expect(queries[0]).toEqual({ limit: '5' });
    expect(queries[1]).toMatchObject({ limit: '5', starting_after: expect.stringMatching(/^[A-Za-z0-9]+$/) });
    const ids = items.map((p) => p.nativeId);
    expect(ids).not.toContain(SELF);
    expect(new Set(ids).size).toBe(ids.length);
    expect(items.every((p) => p.kind === 'CONTACT' && p.email === null)).toBe(true);
    // The same contacts as one large page, and the self contact is the only one left out of the vendor's list.
    expect((await walk(100)).items.map((p) => p.nativeId)).toEqual(ids);
    expect(await open().loadParticipant(SELF)).toMatchObject({ kind: 'AGENT' });
  });

  it('leaves out a row that does not decode and reports it, and the next page starts after it', async () => {
    const whole = (await walk(100)).items.map((p) => p.nativeId);
    fx.emu.setFaults({ malformedRow: { path: PATH, list: 'data', index: 3, set: { created_at: 'yesterday' } } });
    const reported: GatewayError[] = [];
    const { items } = await walk(4, { requestId: 'odd', report: (e) => reported.push(e) });
    // Row 3, the last, of every vendor page is spoiled: each is left out once, and nothing is read twice.
    const got = items.map((p) => p.nativeId);
    expect(new Set(got).size).toBe(got.length);
    expect(got.every((id) => whole.includes(id))).toBe(true);
    expect(reported.length).toBeGreaterThan(0);
    // Each spoiled row is left out for good (the cursor steps over it), not read again as the next page's first row.
    expect(got.length).toBeLessThan(whole.length);
    expect(got.length + reported.length).toBe(whole.length);
    expect(reported[0]!.extensions).toMatchObject({ what: 'contact list' });
  });

  itRefusesForeignCursorsAndBadSizes(fx, 'mo1.10');
});
