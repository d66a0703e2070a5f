import { readFileSync } from 'node:fs';

/**
 * `tsx bench/profile-top.ts <file.cpuprofile> [n]`: the top frames of a V8 CPU profile (from
 * `npm run bench -- --profile`), by self time, and the self time per package (node_modules/<pkg>, src/<dir>,
 * node internals), so a hot path is plain without a browser.
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, count] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/profile-top.ts <file.cpuprofile> [n]\n');
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++)
  self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const where = (url: string) => {
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /\/(src|bench)\/([^/]+)/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  return url ? (url.startsWith('node:') ? url : 'other') : '(native/gc/idle)';
};
const frames = new Map<string, number>();
const packages = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const f = n.callFrame;
  const key = `${f.functionName || '(anonymous)'}  ${f.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${f.lineNumber + 1}`;
  frames.set(key, (frames.get(key) ?? 0) + us);
  const pkg =
    f.functionName === '(idle)'
      ? '(idle)'
      : f.functionName === '(garbage collector)'
        ? '(gc)'
        : f.functionName === '(program)'
          ? '(program)'
          : where(f.url);
  packages.set(pkg, (packages.get(pkg) ?? 0) + us);
}
const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
const top = (m: Map<string, number>, k: number) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([name, us]) => `${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`)
    .join('\n');
process.stdout.write(
  `${file}: ${(total / 1e6).toFixed(1)} s sampled\n\nself time by package:\n${top(packages, 25)}\n\ntop frames by self time:\n${top(frames, Number(count ?? 40))}\n`,
);
