/** README's configuration example is a config the gateway accepts, so that what it shows stays true. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load';

const README = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

function configExample(): string {
  const section = README.indexOf('\n## Configuration');
  const start = README.indexOf('```yaml\n', section);
  const end = README.indexOf('\n```', start + 8);
  if (section < 0 || start < 0 || end < 0) throw new Error('README has no yaml block under "Configuration"');
  return README.slice(start + 8, end);
}

describe("README's configuration example", () => {
  it('parses and validates, with every ${VAR} it references set', () => {
    const text = configExample();
    const names = [...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!);
    const env = Object.fromEntries(names.map((n) => [n, `example-${n.toLowerCase()}-value`]));
    env.REDIS_URL = 'redis://127.0.0.1:6379';
    const config = parseConfig(parse(text), env);
    expect(config.sources.map((s) => `${s.id}:${s.kind}`)).toEqual([
      'studio:PIXIESET',
      'chat:PROTOCOL',
      'support:CHATWOOT',
      'crm:MONICA',
    ]);
    const chatwoot = config.sources.find((s) => s.kind === 'CHATWOOT');
    expect(chatwoot).toMatchObject({ webhookSecret: env.CHATWOOT_WEBHOOK_SECRET, readCheckIntervalMs: 30000 });
  });
});
