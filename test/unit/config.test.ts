import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load';

const key = 'a'.repeat(64);
const valid = {
  sources: [
    {
      id: 'studio',
      kind: 'PIXIESET',
      baseUrl: 'http://127.0.0.1:4101/api/v1',
      credentials: { sessionCookie: '${PX_COOKIE}', csrfToken: 'csrf' },
    },
  ],
  apiKeys: [{ name: 'app', sha256: key, sources: ['studio'] }],
};

describe('config', () => {
  it('accepts a valid config, fills defaults and substitutes ${ENV} references', () => {
    const cfg = parseConfig(valid, { PX_COOKIE: 'session_cookie=abc' });
    expect(cfg.server).toEqual({ host: '127.0.0.1', port: 4000, maxBodyBytes: 1_000_000 });
    const s = cfg.sources[0]!;
    expect(s.kind === 'PIXIESET' && s.credentials.sessionCookie).toBe('session_cookie=abc');
    expect(s.timeoutMs).toBe(5000);
    expect(Object.isFrozen(cfg.sources[0])).toBe(true);
  });

  it('names the field and the environment variable that is missing', () => {
    expect(() => parseConfig(valid, {})).toThrow(
      /sources\[0\]\.credentials\.sessionCookie: references environment variable PX_COOKIE/,
    );
  });

  it('names every invalid field and what was expected', () => {
    const bad = {
      sources: [{ id: 'Bad Id', kind: 'CHATWOOT', baseUrl: 'ftp://x', credentials: {} }],
      apiKeys: [{ name: 'app', sha256: 'short', sources: [] }],
      extra: true,
    };
    let message = '';
    try {
      parseConfig(bad, {});
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/sources\.0\.id: expected a lowercase id/);
    expect(message).toMatch(/sources\.0\.baseUrl: expected an http\(s\) URL/);
    expect(message).toMatch(/sources\.0\.accountId/);
    expect(message).toMatch(/apiKeys\.0\.sha256: expected 64 lowercase hex characters/);
    expect(message).toMatch(/extra/);
  });

  it('refuses duplicate source ids and keys for unknown sources', () => {
    expect(() => parseConfig({ ...valid, sources: [valid.sources[0], valid.sources[0]] }, { PX_COOKIE: 'x' })).toThrow(
      /sources\.1\.id: "studio" is used by another source/,
    );
    expect(() =>
      parseConfig({ ...valid, apiKeys: [{ name: 'app', sha256: key, sources: ['nope'] }] }, { PX_COOKIE: 'x' }),
    ).toThrow(/apiKeys\.0\.sources\.0: "nope" is not the id of a configured source/);
  });

  it('reads YAML files and reports unreadable ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-config-'));
    try {
      const file = join(dir, 'switchboard.yaml');
      writeFileSync(
        file,
        `sources:\n  - id: studio\n    kind: PIXIESET\n    baseUrl: http://127.0.0.1:4101/api/v1\n    credentials: { sessionCookie: c, csrfToken: t }\napiKeys:\n  - { name: app, sha256: ${key}, sources: ["*"] }\n`,
      );
      expect(loadConfigFile(file, {}).sources[0]!.id).toBe('studio');
      expect(() => loadConfigFile(join(dir, 'missing.yaml'), {})).toThrow(/Cannot read config file/);
      writeFileSync(file, 'sources: [');
      expect(() => loadConfigFile(file, {})).toThrow(/not valid YAML or JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
