/**
 * Vendor knowledge lives in docs/vendors/ (and the live protocol in docs/live.md); code cites a file plus a quoted
 * section name (the section may wrap onto the next comment line; several may follow, joined by "and" or commas).
 * Every cited section must exist as a Markdown heading of that file, and every file under docs/ that anything names must exist, so the
 * citations resolve on a fresh clone.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
/** Where citations live: code, tests, benchmarks, scripts, the schema, README and the vendor docs themselves. */
const SCANNED = ['src', 'test', 'bench', 'scripts', 'schema', 'docs', 'README.md'];
const TEXT = /\.(ts|tsx|js|mjs|cjs|graphql|md|json|ya?ml)$/;

function files(rel: string): string[] {
  const abs = path.join(ROOT, rel);
  if (!existsSync(abs)) return [];
  if (statSync(abs).isFile()) return TEXT.test(rel) ? [rel] : [];
  return readdirSync(abs).flatMap((name) =>
    name === 'node_modules' || name === '__generated__' ? [] : files(path.join(rel, name)),
  );
}

interface Citation {
  file: string;
  line: number;
  doc: string;
  sections: string[];
}

/** Joins comment continuation lines (`//`, ` * `, `#`) so a section name broken across lines reads whole. */
function unwrap(text: string): string {
  return text.replace(/\s*\n\s*(?:\/\/+|\*(?!\/)|#)?\s*/g, ' ');
}

/** Every `docs/<path>` with an extension, and the quoted section names that follow a Markdown file under docs/. */
export function findCitations(file: string, text: string): Citation[] {
  const out: Citation[] = [];
  const re = /(?<![\w/.-])docs\/[\w./-]*\w\.[a-zA-Z]+(?![\w/-])/g;
  for (const m of text.matchAll(re)) {
    const doc = m[0];
    const line = text.slice(0, m.index).split('\n').length;
    const sections: string[] = [];
    if (/^docs\/[\w/-]+\.md$/.test(doc)) {
      const after = unwrap(text.slice(m.index + doc.length, m.index + doc.length + 400));
      const run = /^\s*(?:§\s*)?("[^"\n]+"(?:\s*(?:,|and|or|,\s*and)\s*"[^"\n]+")*)/.exec(after);
      if (run) for (const q of run[1]!.matchAll(/"([^"\n]+)"/g)) sections.push(q[1]!.trim());
    }
    out.push({ file, line, doc, sections });
  }
  return out;
}

/** The text of every ATX heading (`#` to `######`), trailing `#`s removed. */
export function headingsOf(markdown: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const raw of markdown.split('\n')) {
    if (/^\s*```/.test(raw)) fenced = !fenced;
    if (fenced) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw);
    if (m) out.add(m[1]!);
  }
  return out;
}

const SELF = path.join('test', 'unit', 'docs-citations.test.ts');
const citations = SCANNED.flatMap(files)
  .filter((f) => f !== SELF)
  .flatMap((f) => findCitations(f, readFileSync(path.join(ROOT, f), 'utf8')));

describe('citations of docs/', () => {
  it('finds the citations it checks (the scanner itself works)', () => {
    const sample = ['// see docs/vendors/monica.md "Errors" and', '// "Rate', '// limit"; also docs/vendors/x.json.'];
    expect(findCitations('sample.ts', sample.join('\n'))).toEqual([
      { file: 'sample.ts', line: 1, doc: 'docs/vendors/monica.md', sections: ['Errors', 'Rate limit'] },
      { file: 'sample.ts', line: 3, doc: 'docs/vendors/x.json', sections: [] },
    ]);
    expect([...headingsOf('# A\ntext\n## B c ##\n```\n# not a heading\n```\n#### D / e')]).toEqual([
      'A',
      'B c',
      'D / e',
    ]);
    expect(citations.filter((c) => c.sections.length > 0).length).toBeGreaterThan(50);
  });

  it('names only files that exist under docs/', () => {
    const missing = citations
      .filter((c) => !existsSync(path.join(ROOT, c.doc)))
      .map((c) => `${c.file}:${c.line} ${c.doc}`);
    expect(missing).toEqual([]);
  });

  it('names only sections that exist as headings of the cited file', () => {
    const headings = new Map<string, Set<string>>();
    const missing: string[] = [];
    for (const c of citations) {
      if (c.sections.length === 0 || !existsSync(path.join(ROOT, c.doc))) continue;
      let h = headings.get(c.doc);
      if (!h) headings.set(c.doc, (h = headingsOf(readFileSync(path.join(ROOT, c.doc), 'utf8'))));
      for (const s of c.sections) if (!h.has(s)) missing.push(`${c.file}:${c.line} ${c.doc} "${s}"`);
    }
    expect(missing).toEqual([]);
  });

  it('README and docs/vendors name only repository files that exist (generated bench results aside)', () => {
    const docs = ['README.md', ...files(path.join('docs', 'vendors')).filter((f) => f.endsWith('.md'))];
    const missing: string[] = [];
    for (const doc of docs) {
      const text = readFileSync(path.join(ROOT, doc), 'utf8');
      for (const m of text.matchAll(/(?<![\w/.-])(?:src|test|bench|scripts|schema|web)\/[\w./-]*\w\.[a-z]+\b/g)) {
        if (m[0].startsWith('bench/results/')) continue;
        if (!existsSync(path.join(ROOT, m[0]))) missing.push(`${doc}: ${m[0]}`);
      }
    }
    expect([...new Set(missing)]).toEqual([]);
  });

  it('has a vendor file for each of the four vendors, each ending with its table of emulator assumptions', () => {
    for (const vendor of ['pixieset', 'protocol', 'chatwoot', 'monica']) {
      const md = readFileSync(path.join(ROOT, 'docs', 'vendors', `${vendor}.md`), 'utf8');
      const last = md.slice(md.lastIndexOf('\n## '));
      expect(last).toMatch(/^\n## Assumptions\n/);
      expect(last).toContain('| behaviour | why we assume it | what the connector does if it is wrong | test |');
    }
  });
});
