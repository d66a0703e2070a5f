import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, GatewayError, fileTooLarge, unsupported } from '../../src/errors';

describe('error codes', () => {
  it('README lists exactly the codes of ErrorCode', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Error codes'), readme.indexOf('## Live unread counts'));
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('carries the code and the source in extensions', () => {
    const e = unsupported('crm', 'mute');
    expect(e).toBeInstanceOf(GatewayError);
    expect(e.extensions).toEqual({ code: 'UNSUPPORTED_OPERATION', source: 'crm', operation: 'mute' });
    expect(fileTooLarge('studio', 11, 10).extensions).toEqual({
      code: 'FILE_TOO_LARGE',
      source: 'studio',
      maxSize: 10,
    });
  });
});
