import { spawn } from 'node:child_process';

/** Runs test/utils/httpShapesProbe.ts in a process of its own (V8's slack tracking is per process). */
function probe(settle: boolean): Promise<{ before: boolean[]; after: boolean[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--allow-natives-syntax',
        '--expose-gc',
        '--import',
        'tsx',
        'test/utils/httpShapesProbe.ts',
        ...(settle ? ['settle'] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`probe exited with ${code}: ${err}`));
      else resolve(JSON.parse(out) as { before: boolean[]; after: boolean[] });
    });
  });
}

describe('HTTP request and response shapes (server/httpShapes.ts)', () => {
  it('without settling, a full GC after the sixth response leaves later responses with dictionary properties (the V8 behaviour it guards against)', async () => {
    const { before, after } = await probe(false);
    expect(before).toEqual([true, true, true, true, true, true]);
    expect(after).toEqual([false, false, false, false]);
  }, 30_000);

  it('after settleHttpShapes(), responses keep fast properties through the same GC', async () => {
    const { before, after } = await probe(true);
    expect(before).toEqual([true, true, true, true, true, true]);
    expect(after).toEqual([true, true, true, true]);
  }, 30_000);
});
