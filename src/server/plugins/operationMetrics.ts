import type { ApolloServerPlugin } from '@apollo/server';
import type { GatewayContext } from '../../schema/context';
import type { Logger } from '../logger';
import type { GatewayMetrics } from '../metrics';

/**
 * Counts each HTTP operation by type and outcome with its duration, and the errors of sources that failed beside
 * partial data (they never pass formatError); logs a debug line per operation with its request id. Listed last,
 * so that it sees the response every other plugin has finished.
 */
export function operationMetricsPlugin(metrics: GatewayMetrics, logger: Logger): ApolloServerPlugin<GatewayContext> {
  return {
    async requestDidStart() {
      const started = performance.now();
      let type = 'unknown';
      return {
        async didResolveOperation({ operation }) {
          type = operation?.operation ?? 'unknown';
        },
        async willSendResponse({ response, contextValue, request }) {
          // A skipped vendor row (extensions.rowId) was logged when it was met, once per row (server/context.ts).
          for (const e of contextValue.sourceErrors) metrics.countError(e.code, e.sourceId);
          const failed =
            contextValue.sourceErrors.length > 0 ||
            (response.body.kind === 'single' && (response.body.singleResult.errors?.length ?? 0) > 0);
          const outcome = failed ? 'error' : 'success';
          const seconds = (performance.now() - started) / 1000;
          metrics.httpOperation(type, outcome, seconds);
          if (logger.isLevelEnabled('debug')) {
            logger.debug(
              {
                requestId: contextValue.requestId,
                operation: type,
                operationName: request.operationName ?? null,
                outcome,
                upstreamCalls: contextValue.upstream.length,
                ms: Math.round(seconds * 10_000) / 10,
              },
              'graphql operation',
            );
          }
        },
      };
    },
  };
}
