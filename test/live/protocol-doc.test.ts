import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { conversationTopic, pollLease, unreadTopic } from '../../src/live/protocol';

/**
 * docs/live.md is the live protocol and src/live mirrors it (as graphql-ws mirrors its PROTOCOL.md): every
 * section the code cites exists, and the names the code uses are the ones the document gives.
 */
const ROOT = path.join(__dirname, '..', '..');
const doc = readFileSync(path.join(ROOT, 'docs', 'live.md'), 'utf8');
const headings = new Set(
  doc
    .split('\n')
    .map((l) => /^#{1,6}\s+(.+?)\s*$/.exec(l)?.[1])
    .filter((h): h is string => !!h),
);

describe('docs/live.md and src/live', () => {
  const sources = readdirSync(path.join(ROOT, 'src', 'live'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: f, text: readFileSync(path.join(ROOT, 'src', 'live', f), 'utf8') }));

  it('cites only sections that docs/live.md has', () => {
    const cited: Array<{ file: string; section: string }> = [];
    for (const { file, text } of sources) {
      // A citation may wrap onto the next comment line.
      const flat = text.replace(/\s*\n\s*(?:\/\/+|\*(?!\/))?\s*/g, ' ');
      for (const m of flat.matchAll(/docs\/live\.md "([^"]+)"/g)) cited.push({ file, section: m[1]! });
    }
    expect(cited.length).toBeGreaterThan(10);
    expect(cited.filter((c) => !headings.has(c.section))).toEqual([]);
  });

  it('names the topics and the poll lease as protocol.ts builds them', () => {
    expect(doc).toContain(`\`${unreadTopic('<sourceId>')}\``);
    expect(doc).toContain(`\`${conversationTopic('<sourceId>')}\``);
    expect(doc).toContain(`\`${pollLease('<source>')}\``);
  });

  it('describes every poller phase', () => {
    const pollers = sources.find((s) => s.file === 'pollerState.ts')!.text;
    const union = /export type PollerState =([\s\S]*?);\n/.exec(pollers)![1]!;
    const phases = [...union.matchAll(/phase: '(\w+)'/g)].map((m) => m[1]);
    expect(phases).toEqual(['idle', 'standby', 'holding', 'backoff', 'stopped']);
    const section = doc.slice(doc.indexOf('## Poller states'), doc.indexOf('## Leases'));
    for (const p of phases) expect(section).toContain(`| \`${p}\``);
  });
});
