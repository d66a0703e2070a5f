/**
 * The vendors' listContacts suites (issue 15; test/unit/connectors/<vendor>/contacts.test.ts): one emulator and
 * its connector per file, the page walk every suite measures with, and the argument checks all of them share.
 */
import type { Connector, ParticipantModel, RequestScope, SourceKind } from '../../src/connectors/types';
import { createConnector } from '../../src/connectors/registry';
import type { EmulatorHandle, EmulatorStartOptions } from '../../src/sandbox/kit/server';
import { expectGatewayError } from './errors';
import { vendorConfig, vendorEntry } from './vendors';

export interface ContactsFixture {
  /** The emulator (started in beforeAll, its controls and faults reset before each test). */
  readonly emu: EmulatorHandle;
  /** A session of the connector (config from the sandbox's table, `retries: 0` for exact request counts). */
  open(scope?: RequestScope): ReturnType<Connector['openSession']>;
  /**
   * Every page, the `first` of each taken from `first` in turn (one number: every page), asserting that each
   * page costs exactly one `GET <path>` and holds at most `first` contacts; the items and each request's query.
   */
  walk(
    first: number | number[],
    scope?: RequestScope,
  ): Promise<{ items: ParticipantModel[]; queries: Array<Record<string, unknown>> }>;
}

/** Registers beforeAll/afterAll/beforeEach for one vendor's emulator (port 0) and connector. */
export function contactsFixture(
  kind: SourceKind,
  path: string,
  start: Omit<EmulatorStartOptions, 'port'> = {},
): ContactsFixture {
  let emu: EmulatorHandle | undefined;
  let connector: Connector | undefined;
  const started = () => {
    if (!emu || !connector) throw new Error('the contacts fixture is used outside its tests');
    return { emu, connector };
  };

  beforeAll(async () => {
    emu = await vendorEntry(kind).start({ ...start, port: 0 });
    connector = createConnector(vendorConfig(kind, emu.url, { retries: 0 }));
  });
  afterAll(async () => {
    await connector?.close?.();
    await emu?.close();
  });
  beforeEach(() => {
    started().emu.controls.reset();
    started().emu.setFaults({});
  });

  const open = (scope: RequestScope = { requestId: 'contacts' }) => started().connector.openSession(scope);

  async function walk(first: number | number[], scope?: RequestScope) {
    const { emu } = started();
    const sizes = typeof first === 'number' ? [first] : first;
    const session = open(scope);
    const items: ParticipantModel[] = [];
    const queries: Array<Record<string, unknown>> = [];
    let after: string | undefined;
    for (let i = 0; i < 200; i++) {
      const size = sizes[i % sizes.length]!;
      emu.clearRequests();
      const page = await session.listContacts!({ after, first: size });
      expect(emu.requests().map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${path}`]);
      queries.push(emu.requests()[0]!.query);
      expect(page.items.length).toBeLessThanOrEqual(size);
      items.push(...page.items);
      if (!page.next) return { items, queries };
      after = page.next;
    }
    throw new Error('too many pages');
  }

  return {
    get emu() {
      return started().emu;
    },
    open,
    walk,
  };
}

/**
 * The test every vendor's suite has: a cursor another vendor's connector made (`foreignCursor`), and a `first`
 * outside 1..100, are refused as BAD_USER_INPUT without a vendor request.
 */
export function itRefusesForeignCursorsAndBadSizes(fx: ContactsFixture, foreignCursor: string): void {
  it('refuses a cursor it did not make and a first outside 1..100, without a request', async () => {
    fx.emu.clearRequests();
    await expectGatewayError(fx.open().listContacts!({ first: 10, after: foreignCursor }), 'BAD_USER_INPUT');
    await expectGatewayError(fx.open().listContacts!({ first: 0 }), 'BAD_USER_INPUT');
    await expectGatewayError(fx.open().listContacts!({ first: 101 }), 'BAD_USER_INPUT');
    expect(fx.emu.requests()).toHaveLength(0);
  });
}
