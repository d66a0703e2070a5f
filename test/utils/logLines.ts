/**
 * A gateway logger whose lines a test reads back: every JSON line it writes, parsed, in order (for suites that tell
 * what a request did from its log lines, e.g. the response cache's debug line `responseCache: "hit"`).
 */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/server/logger';

/** A logger at `level` and the lines it wrote so far (each line parsed once it is whole). */
export function capturedLogger(level = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  const logger = createLogger({
    level,
    destination: new Writable({
      write: (chunk: Buffer, _e, cb) => {
        const whole = (partial + String(chunk)).split('\n');
        partial = whole.pop() ?? '';
        for (const line of whole) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    }),
  });
  return { logger, lines };
}
