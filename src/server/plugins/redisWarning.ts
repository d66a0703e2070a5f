import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode, GatewayError } from '../../errors';
import type { GatewayContext } from '../../schema/context';
import type { RedisHealth } from '../redisHealth';

/** The warning an operation answered during a Redis outage carries beside its data. */
export const redisUnavailable = () =>
  new GatewayError(
    ErrorCode.REDIS_UNAVAILABLE,
    "Redis is unreachable: this answer comes from the sources and this gateway instance's own copies, without the shared cache; it may miss changes other instances saw.",
    { degraded: true },
  );

/**
 * Issue 12 item 2: an operation during which Redis was down (or went down, or a Redis call fell back to a local
 * store) gets one REDIS_UNAVAILABLE entry in `errors`, beside data that is otherwise complete. Listed before
 * sourceErrorsPlugin, which appends the operation's `sourceErrors` to the response (and operationMetrics counts
 * them). Nothing without Redis.
 */
export function redisWarningPlugin(health: RedisHealth | null): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      if (!health) return;
      const mark = health.mark();
      return {
        async willSendResponse({ contextValue }) {
          if (health.degradedSince(mark)) contextValue.sourceErrors.push(redisUnavailable());
        },
      };
    },
  };
}
