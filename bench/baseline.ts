import { subscribe as graphqlSubscribe } from 'graphql';
import type { Config } from '../src/config/schema';
import type { ConversationPage } from '../src/connectors/types';
import type { OpenSession } from '../src/server/context';
import { createGateway, type Gateway, type GatewayOptions } from '../src/server/createGateway';

/**
 * # The naive baseline (benchmark equipment)
 *
 * A gateway variant serving the same schema the way a straightforward gateway would, so that `npm run bench`
 * can show what the real one saves (issue 7). It is the real gateway with three of its options changed:
 * - no DataLoader sharing (`openSession`): every session call opens a fresh session, so each field fetches on
 *   its own and nothing is batched or deduplicated across fields;
 * - no priming (the same hook): list results lose the participants and last message their payload (or catalog)
 *   embedded, so `Conversation.participants` and `Conversation.lastMessage` fetch per row;
 * - no index (`config`): catalogs expire at once (`catalogMaxAgeMs: 1`), so every list re-reads the source in full;
 * - no shared subscription execution (`subscribe`): graphql-js runs each subscriber's selection on its own.
 */
export function createBaselineGateway(opts: GatewayOptions): Promise<Gateway> {
  return createGateway(baselineOptions(opts));
}

export function baselineOptions(opts: GatewayOptions): GatewayOptions {
  return { ...opts, config: baselineConfig(opts.config), openSession: naiveSession, subscribe: graphqlSubscribe };
}

/** The config with every catalog expiring at once (sources without a catalog ignore the setting). */
export function baselineConfig(config: Config): Config {
  return { ...config, sources: config.sources.map((s) => ({ ...s, catalogMaxAgeMs: 1 })) };
}

/**
 * A session whose every call runs on a fresh session of the connector (no loader shared with any other call),
 * with list results carrying nothing a later field could reuse. (Every resolver makes one call per
 * `ctx.session()`, so this is a fresh session per field.)
 */
export const naiveSession: OpenSession = (connector, scope) => {
  const strip = (page: ConversationPage): ConversationPage => ({
    ...page,
    items: page.items.map((c) => ({ ...c, participants: null, lastMessage: undefined })),
  });
  // Which methods a session of this connector has (some are optional), and its non-function properties.
  const probe = connector.openSession(scope);
  return new Proxy(probe, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const fresh = connector.openSession(scope);
        const result = (Reflect.get(fresh, prop, fresh) as (...a: unknown[]) => unknown).apply(fresh, args);
        return prop === 'listConversations' ? (result as Promise<ConversationPage>).then(strip) : result;
      };
    },
  });
};
