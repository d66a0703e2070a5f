#!/usr/bin/env node
// Bundles the offline GraphiQL (web/graphiql.tsx) with esbuild into public/graphiql/: graphiql.js + graphiql.css,
// the three Monaco workers the page names in MonacoEnvironment.getWorker, and Monaco's codicon font.
// Run by `npm start` (prestart) and `npm test` (pretest); skipped when the output is newer than every input, so
// repeated runs cost nothing. `--force` rebuilds anyway.
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'public', 'graphiql');
const stamp = join(outdir, '.build-stamp');
// What the page and src/graphiql/index.ts load; a build missing one of them is not up to date.
const outputs = ['graphiql.js', 'graphiql.css', 'editor.worker.js', 'json.worker.js', 'graphql.worker.js'];

function newestMtime(path) {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs; // a deleted file only shows as a newer directory mtime
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function upToDate() {
  if (!existsSync(stamp) || outputs.some((file) => !existsSync(join(outdir, file)))) return false;
  const inputs = [join(root, 'web'), join(root, 'package-lock.json'), fileURLToPath(import.meta.url)];
  const newestInput = Math.max(...inputs.filter((path) => existsSync(path)).map(newestMtime));
  return statSync(stamp).mtimeMs > newestInput;
}

if (!process.argv.includes('--force') && upToDate()) {
  console.log(`GraphiQL bundle is up to date (${relative(root, outdir)}); --force rebuilds it.`);
  process.exit(0);
}

const started = performance.now();
const startedAt = new Date();
// Build beside the output and swap it in, so a running server never serves half a bundle or stale hashed fonts.
const tmpdir = `${outdir}.tmp-${process.pid}`;
rmSync(tmpdir, { recursive: true, force: true });
mkdirSync(dirname(outdir), { recursive: true });

const common = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  outdir: tmpdir,
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
};

try {
  const result = await Promise.all([
    build({
      ...common,
      entryPoints: { graphiql: 'web/graphiql.tsx' },
      jsx: 'automatic',
      // Monaco's CSS references codicon.ttf; emitted next to graphiql.css and referenced relatively.
      loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file' },
      assetNames: '[name]-[hash]',
      metafile: true,
    }),
    build({
      ...common,
      entryPoints: {
        'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
        'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
        'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
      },
      metafile: true,
    }),
  ]);
  // The stamp carries the start time, so an input edited while esbuild ran still counts as newer next time.
  writeFileSync(join(tmpdir, '.build-stamp'), `${startedAt.toISOString()}\n`);
  utimesSync(join(tmpdir, '.build-stamp'), startedAt, startedAt);
  rmSync(outdir, { recursive: true, force: true });
  renameSync(tmpdir, outdir);

  const files = result.flatMap((r) => Object.entries(r.metafile.outputs));
  const total = files.reduce((sum, [, output]) => sum + output.bytes, 0);
  for (const [file, output] of files) {
    console.log(
      `  ${relative(tmpdir, join(root, file)).padEnd(28)} ${(output.bytes / 1024).toFixed(0).padStart(6)} KiB`,
    );
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`GraphiQL built into ${relative(root, outdir)}: ${(total / 1024 / 1024).toFixed(1)} MiB in ${seconds} s`);
} catch (error) {
  rmSync(tmpdir, { recursive: true, force: true });
  // esbuild has already printed the errors (logLevel warning).
  console.error(`GraphiQL build failed: ${error instanceof Error ? error.message.split('\n')[0] : error}`);
  process.exit(1);
}
