// Fails when src/schema/__generated__ is stale: regenerates into a temp copy and compares.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const file = 'src/schema/__generated__/resolvers-types.ts';
const before = readFileSync(file, 'utf8');
execFileSync('npx', ['graphql-codegen', '--config', 'codegen.yml'], { stdio: 'inherit' });
const after = readFileSync(file, 'utf8');
if (before !== after) {
  console.error(`\n${file} was stale: it did not match the SDL in schema/. It has been regenerated; commit it.`);
  process.exit(1);
}
console.log('Generated resolver types match the schema.');
