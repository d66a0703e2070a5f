import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { VENDOR_PROFILES } from '../../src/connectors/registry';
import type { Connector } from '../../src/connectors/types';
import { VENDORS } from '../../src/sandbox';

/**
 * The vendor folder shape of docs/connectors.md: every vendor's connector (src/connectors/<vendor>/) and emulator
 * (src/sandbox/<vendor>/) hold the same files and export the same names, so that a new vendor is a copy of any
 * folder with its contents replaced. A vendor is a folder present in both places.
 */
const ROOT = path.join(__dirname, '..', '..');
const CONNECTORS = path.join(ROOT, 'src', 'connectors');
const SANDBOX = path.join(ROOT, 'src', 'sandbox');

const dirs = (root: string) =>
  readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
const vendors = dirs(CONNECTORS).filter((v) => dirs(SANDBOX).includes(v));
const files = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.ts'));

/** `chatwoot` → `Chatwoot`, `CHATWOOT`. */
const cap = (v: string) => v[0]!.toUpperCase() + v.slice(1);
const upper = (v: string) => v.toUpperCase();

const CONNECTOR_FILES = ['index.ts', 'profile.ts', 'client.ts', 'types.ts', 'mapper.ts', 'loaders.ts', 'session.ts'];
const EMULATOR_FILES = ['index.ts', 'routes.ts', 'state.ts', 'seed.ts', 'views.ts'];

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = (file: string) => require(file) as Record<string, unknown>;
const fn = (m: Record<string, unknown>, name: string) => [name, typeof m[name]];

describe('vendor folders', () => {
  it('are the four vendors, each registered with a profile and listed in the sandbox', () => {
    expect(vendors.sort()).toEqual(['chatwoot', 'monica', 'pixieset', 'protocol']);
    for (const v of vendors) {
      expect(VENDOR_PROFILES[upper(v) as keyof typeof VENDOR_PROFILES]?.kind).toBe(upper(v));
      expect(VENDORS.map((e) => e.kind)).toContain(upper(v));
    }
  });

  describe.each(vendors)('src/connectors/%s/', (v) => {
    const dir = path.join(CONNECTORS, v);
    const at = (f: string) => path.join(dir, f);

    it('holds the connector file set, and webhook.ts exactly when it takes webhooks', () => {
      const present = files(dir);
      expect(CONNECTOR_FILES.filter((f) => !present.includes(f))).toEqual([]);
      const profile = load(at('profile.ts'))[`${upper(v)}_PROFILE`] as { capabilities: { realtime: string } };
      expect(existsSync(at('webhook.ts'))).toBe(profile.capabilities.realtime === 'WEBHOOK');
    });

    it('exports the names of the shape', () => {
      const index = load(at('index.ts'));
      const profile = load(at('profile.ts'));
      expect([
        fn(index, `create${cap(v)}Connector`),
        ['index profile', index[`${upper(v)}_PROFILE`] === profile[`${upper(v)}_PROFILE`]],
        [
          'index capabilities',
          index[`${upper(v)}_CAPABILITIES`] === (profile[`${upper(v)}_PROFILE`] as Connector).capabilities,
        ],
        fn(load(at('client.ts')), `create${cap(v)}Client`),
        fn(load(at('client.ts')), `${cap(v)}Client`),
        fn(load(at('session.ts')), `${cap(v)}Session`),
        fn(load(at('loaders.ts')), `create${cap(v)}Loaders`),
      ]).toEqual([
        [`create${cap(v)}Connector`, 'function'],
        ['index profile', true],
        ['index capabilities', true],
        [`create${cap(v)}Client`, 'function'],
        [`${cap(v)}Client`, 'function'],
        [`${cap(v)}Session`, 'function'],
        [`create${cap(v)}Loaders`, 'function'],
      ]);
      if (existsSync(at('poll.ts')))
        expect(fn(load(at('poll.ts')), `create${cap(v)}Poller`)).toEqual([`create${cap(v)}Poller`, 'function']);
      // catalog.ts exactly when the profile has a catalog: the reader its connector's CatalogSync wraps.
      const vendor = load(at('profile.ts'))[`${upper(v)}_PROFILE`] as { catalog?: unknown };
      expect(existsSync(at('catalog.ts'))).toBe(vendor.catalog !== undefined);
      if (existsSync(at('catalog.ts')))
        expect(fn(load(at('catalog.ts')), `create${cap(v)}CatalogReader`)).toEqual([
          `create${cap(v)}CatalogReader`,
          'function',
        ]);
    });

    it('takes its defaults from its profile and builds sessions from one options object', () => {
      const profile = load(at('profile.ts'))[`${upper(v)}_PROFILE`] as Record<string, unknown>;
      expect(Object.keys(profile)).toEqual(
        expect.arrayContaining(['kind', 'defaultName', 'capabilities', 'limits', 'catalog']),
      );
      const session = readFileSync(at('session.ts'), 'utf8');
      expect(session).toMatch(new RegExp(`export type ${cap(v)}SessionOptions = SessionOptions<`));
      expect(session).toMatch(
        /constructor\(\s*options: \w+SessionOptions,\s*(private readonly )?scope: RequestScope,?\s*\)/,
      );
      // The HttpClient is built in one place (connectors/vendor.ts), so the source's limits always reach it.
      for (const f of files(dir)) expect([f, /new HttpClient\(/.test(readFileSync(at(f), 'utf8'))]).toEqual([f, false]);
      expect(readFileSync(at('client.ts'), 'utf8')).toMatch(/createVendorHttp\(config, deps,/);
    });

    it('names wire types <vendor><Thing> (zod schemas) and <Vendor><Thing>Dto (types)', () => {
      const types = load(at('types.ts'));
      expect(Object.keys(types).filter((k) => !k.startsWith(v) || !/^[A-Z]/.test(k.slice(v.length)))).toEqual([]);
      const text = readFileSync(at('types.ts'), 'utf8');
      const typeNames = [...text.matchAll(/^export (?:type|interface) (\w+)/gm)].map((m) => m[1]!);
      expect(typeNames.length).toBeGreaterThan(0);
      expect(typeNames.filter((t) => !new RegExp(`^${cap(v)}[A-Z]\\w*Dto$`).test(t))).toEqual([]);
    });
  });

  describe.each(vendors)('src/sandbox/%s/', (v) => {
    const dir = path.join(SANDBOX, v);
    const at = (f: string) => path.join(dir, f);

    it('holds the emulator file set', () => {
      expect(EMULATOR_FILES.filter((f) => !files(dir).includes(f))).toEqual([]);
    });

    it('exports the names of the shape', () => {
      expect([
        fn(load(at('index.ts')), `start${cap(v)}Emulator`),
        fn(load(at('routes.ts')), 'mountRoutes'),
        fn(load(at('state.ts')), `${cap(v)}State`),
        fn(load(at('seed.ts')), `seed${cap(v)}`),
        fn(load(at('views.ts')), `${cap(v)}Views`),
      ]).toEqual([
        [`start${cap(v)}Emulator`, 'function'],
        ['mountRoutes', 'function'],
        [`${cap(v)}State`, 'function'],
        [`seed${cap(v)}`, 'function'],
        [`${cap(v)}Views`, 'function'],
      ]);
      expect(readFileSync(at('index.ts'), 'utf8')).toMatch(new RegExp(`export interface ${cap(v)}EmulatorOptions`));
    });
  });
});
