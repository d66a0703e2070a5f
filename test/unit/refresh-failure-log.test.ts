import { ErrorCode, GatewayError } from '../../src/errors';
import { logRefreshFailure } from '../../src/server/services';
import { capturedLogger } from '../utils/logLines';

/** server/services.ts: the live engine's failed refreshes in the log (README "Logs": `live refresh failed`). */
describe('live refresh failures in the log', () => {
  it('warns of a failed refresh, and logs a refresh the open circuit breaker refused at debug', async () => {
    const { logger, lines } = capturedLogger('debug');
    const failed = new GatewayError(ErrorCode.SOURCE_UNAVAILABLE, 'Source "chatwoot" answered 503.', {
      source: 'chatwoot',
    });
    const refused = new GatewayError(ErrorCode.CIRCUIT_OPEN, 'its circuit breaker is open, so no call was made.', {
      source: 'chatwoot',
    });
    logRefreshFailure(logger, failed, 'chatwoot');
    logRefreshFailure(logger, refused, 'chatwoot');
    logRefreshFailure(logger, new Error('boom'), 'monica');
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.level, l.msg, l.sourceId, l.code])).toEqual([
      [40, 'live refresh failed', 'chatwoot', ErrorCode.SOURCE_UNAVAILABLE],
      [20, 'live refresh failed', 'chatwoot', ErrorCode.CIRCUIT_OPEN],
      [40, 'live refresh failed', 'monica', undefined],
    ]);
  });
});
