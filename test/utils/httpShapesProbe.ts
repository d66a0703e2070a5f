/**
 * A child process for test/server/http-shapes.test.ts (run with `--allow-natives-syntax --expose-gc --import
 * tsx`): a plain Node HTTP server, with `settle` as its argument after settleHttpShapes(). It answers 6 requests,
 * runs a full GC (V8's slack tracking of the response class is then one construction from its end), answers 4
 * more, and prints whether each response had fast properties (V8's %HasFastProperties) as JSON.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { settleHttpShapes } from '../../src/server/httpShapes';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

if (process.argv[2] === 'settle') settleHttpShapes();
const fast: boolean[] = [];
const server = createServer((_req, res) => {
  fast.push(hasFastProperties(res));
  res.end('ok');
});

const get = (port: number) =>
  new Promise<void>((resolve, reject) => {
    request({ host: '127.0.0.1', port, agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    })
      .on('error', reject)
      .end();
  });

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  void (async () => {
    for (let i = 0; i < 6; i++) await get(port);
    gc();
    for (let i = 0; i < 4; i++) await get(port);
    process.stdout.write(JSON.stringify({ before: fast.slice(0, 6), after: fast.slice(6) }));
    server.close();
  })();
});
