import type { Config } from '../config/schema';
import type { ConnectorSession, ConversationPage } from '../connectors/types';

/**
 * # The naive baseline (benchmarks only)
 *
 * `createGateway({ baseline: true })` serves the same schema the way a straightforward gateway would, so that
 * `npm run bench` can show what the real one saves (issue 7):
 * - no DataLoader sharing: every `ctx.session(sourceId)` call opens a fresh session, so each field fetches on
 *   its own and nothing is batched or deduplicated across fields;
 * - no priming: list results lose the participants and last message their payload (or catalog) embedded, so
 *   `Conversation.participants` and `Conversation.lastMessage` fetch per row;
 * - no index: catalogs expire at once (`catalogMaxAgeMs: 1`), so every list re-reads the source in full;
 * - no shared subscription execution: graphql-js runs each subscriber's selection on its own (createGateway
 *   leaves out server/fanout.ts).
 *
 * Never used outside the benchmark.
 */

/** The config with every catalog expiring at once (sources without a catalog ignore the setting). */
export function baselineConfig(config: Config): Config {
  return { ...config, sources: config.sources.map((s) => ({ ...s, catalogMaxAgeMs: 1 })) };
}

/** Wraps a fresh session so that its list results carry nothing a later field could reuse. */
export function baselineSession(session: ConnectorSession): ConnectorSession {
  const strip = (page: ConversationPage): ConversationPage => ({
    ...page,
    items: page.items.map((c) => ({ ...c, participants: null, lastMessage: undefined })),
  });
  return new Proxy(session, {
    get(target, prop) {
      if (prop === 'listConversations') {
        return (req: Parameters<ConnectorSession['listConversations']>[0]) => target.listConversations(req).then(strip);
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
