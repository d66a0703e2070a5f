import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The import rules of README "Architecture", checked on the real import graph (dpdm, type-only imports
 * included): no cycles anywhere, and dependencies pointing inward. `npm run check:cycles` runs the same cycle
 * check from the command line. (dpdm runs as its CLI: its library loads ESM-only packages jest cannot require.)
 */
type DependencyTree = Record<string, Array<{ id: string | null }> | null>;
let tree: DependencyTree;
let circulars: string[][];
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'imports-'));
  try {
    const out = join(dir, 'graph.json');
    execFileSync(
      process.execPath,
      [
        require.resolve('dpdm/lib/bin/dpdm.js'),
        '--no-warning',
        '--no-tree',
        '--no-circular',
        '--no-progress',
        // --transform stays off: `import type` edges count, a type-only cycle is a cycle too.
        '-o',
        out,
        'src/**/*.ts',
        'bench/**/*.ts',
        'test/**/*.ts',
      ],
      { stdio: 'ignore' },
    );
    ({ tree, circulars } = JSON.parse(readFileSync(out, 'utf8')) as { tree: DependencyTree; circulars: string[][] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

/** Every import of a project file: `from → to`, both relative to the repository root. */
function edges(): Array<[from: string, to: string]> {
  const out: Array<[string, string]> = [];
  for (const [from, deps] of Object.entries(tree)) {
    for (const d of deps ?? [])
      if (d.id && !d.id.includes('node_modules') && /^(src|bench|test)\//.test(d.id)) out.push([from, d.id]);
  }
  return out;
}

/** `src/connectors/monica/client.ts` → `connectors`; `src/index.ts` → `index`; `bench/run.ts` → `bench`. */
const area = (file: string) =>
  file.startsWith('src/') ? (/^src\/([^/.]+)/.exec(file)?.[1] ?? file) : file.split('/')[0]!;

/** What each area of src/ may import besides itself (README "Architecture": dependencies point inward). */
const ALLOWED: Record<string, readonly string[]> = {
  config: [],
  errors: [],
  connectors: ['config', 'errors'],
  live: ['connectors', 'errors'],
  // People (issue 15): formed from connector models; the schema reaches them.
  people: ['connectors', 'errors'],
  schema: ['connectors', 'errors', 'live', 'people'],
  graphiql: [],
  server: ['config', 'connectors', 'errors', 'live', 'people', 'schema', 'graphiql'],
  sandbox: ['config', 'connectors'],
  // The entry point: a configured gateway, or the embedded default (the sandbox, loaded only then).
  index: ['config', 'server', 'sandbox'],
};

describe('imports', () => {
  it('form no cycle, type-only imports included', () => {
    expect(Object.keys(tree).length).toBeGreaterThan(100); // the whole tree was read
    expect(circulars).toEqual([]);
  });

  it('point inward between the areas of src/', () => {
    const wrong = edges()
      .filter(([from]) => from.startsWith('src/'))
      .filter(([from, to]) => area(from) !== area(to) && !(ALLOWED[area(from)] ?? []).includes(area(to)))
      .map(([from, to]) => `${from} → ${to}`);
    expect(wrong).toEqual([]);
  });

  it('never reach bench/ or test/ from production code', () => {
    const wrong = edges()
      .filter(([from, to]) => from.startsWith('src/') && !to.startsWith('src/'))
      .map(([from, to]) => `${from} → ${to}`);
    expect(wrong).toEqual([]);
  });

  it('keep each vendor folder to itself', () => {
    // A vendor has a folder in both src/connectors/ and src/sandbox/; shared folders (kit/, catalog-stores/) do not.
    const folders = (root: string) =>
      new Set(
        Object.keys(tree).flatMap((f) =>
          f.startsWith(root) ? (/^[^/]+\//.exec(f.slice(root.length))?.[0] ?? []) : [],
        ),
      );
    const inSandbox = folders('src/sandbox/');
    const vendors = [...folders('src/connectors/')].filter((v) => inSandbox.has(v)).map((v) => v.slice(0, -1));
    expect(vendors.length).toBeGreaterThanOrEqual(4);
    const vendorOf = (f: string) =>
      vendors.find((v) => f.startsWith(`src/connectors/${v}/`) || f.startsWith(`src/sandbox/${v}/`));
    const wrong = edges()
      .filter(([from, to]) => {
        const a = vendorOf(from);
        const b = vendorOf(to);
        return a !== undefined && b !== undefined && a !== b;
      })
      .map(([from, to]) => `${from} → ${to}`);
    expect(wrong).toEqual([]);
  });

  it('give resolvers their context type from src/schema/context.ts, never from the server', () => {
    const wrong = edges()
      .filter(([from, to]) => from.startsWith('src/schema/') && to.startsWith('src/server/'))
      .map(([from, to]) => `${from} → ${to}`);
    expect(wrong).toEqual([]);
  });
});
