import { once } from 'node:events';
import { Redis } from 'ioredis';
import { NO_REDIS_GUARD, type RedisGuard } from '../../connectors/catalog-stores/redis';
import type { PubSubTransport } from '../pubsub';

/** Caller-owned connections: `subscriber` is given over to subscriber mode; `publisher` may be shared. */
export interface RedisPubSubConnections {
  publisher: Redis;
  subscriber: Redis;
}

export interface RedisPubSubOptions {
  /**
   * While Redis is down (server/redisHealth.ts; issue 12 item 2), a publish is delivered to this instance's own
   * subscribers instead (other instances miss it: they cannot be reached), and a subscription is live here at
   * once and joins its Redis channel when Redis is back. Without one, a Redis failure is the caller's.
   */
  health?: RedisGuard;
}

const noop = () => undefined;

/**
 * Pub/sub across gateway instances through Redis, on ioredis (a publisher and a subscriber connection; JSON
 * payloads, one channel per topic under `prefix`). Given a URL, it opens both and closes them; given connections
 * (the gateway's shared set, server/services.ts), close() only drops its own subscriptions and listeners.
 */
export function createRedisPubSub(
  connection: string | RedisPubSubConnections,
  prefix = 'switchboard:',
  opts: RedisPubSubOptions = {},
): PubSubTransport {
  const owned = typeof connection === 'string';
  const { publisher, subscriber } =
    typeof connection === 'string'
      ? {
          publisher: new Redis(connection, { lazyConnect: false, maxRetriesPerRequest: 3 }),
          subscriber: new Redis(connection, { lazyConnect: false, maxRetriesPerRequest: 3 }),
        }
      : connection;
  if (owned) {
    // Their failures reach the callers through their commands; an `error` event without a listener would be thrown.
    publisher.on('error', noop);
    subscriber.on('error', noop);
  }
  const health = opts.health ?? NO_REDIS_GUARD;
  /** Channel → this transport's handlers of the raw message (each parses its own copy, as in memory). */
  const channels = new Map<string, Set<(raw: string) => void>>();
  /** Channels whose SUBSCRIBE is on its way: later subscribers of the channel wait for it too. */
  const joining = new Map<string, Promise<void>>();

  const deliver = (channel: string, raw: string) => {
    const handlers = channels.get(channel);
    if (!handlers) return;
    for (const h of [...handlers]) h(raw);
  };
  subscriber.on('message', deliver);

  /**
   * ioredis writes SUBSCRIBE at once while a connection is still in its handshake (the command is allowed while
   * Redis loads), which puts the connection in subscriber mode before its ready check (INFO) runs: the check
   * then fails and the connection is torn down. So subscriptions wait until the subscriber is ready.
   */
  const ready = async () => {
    if (subscriber.status === 'ready') return;
    if (subscriber.status === 'end') throw new Error('The Redis subscriber connection is closed.');
    const ac = new AbortController();
    try {
      await Promise.race([
        once(subscriber, 'ready', { signal: ac.signal }),
        once(subscriber, 'end', { signal: ac.signal }).then(() => {
          throw new Error('The Redis subscriber connection is closed.');
        }),
      ]);
    } finally {
      ac.abort();
    }
  };
  /**
   * Once the subscriber is ready again (after an outage), every channel is subscribed: ioredis re-subscribes only
   * the channels Redis had confirmed, not those subscribed here while Redis was down. A repeat SUBSCRIBE is a no-op.
   */
  const onReady = () => {
    const all = [...channels.keys()];
    if (all.length > 0) subscriber.subscribe(...all).catch(noop);
  };
  subscriber.on('ready', onReady);

  return {
    async publish(topic, payload) {
      const channel = prefix + topic;
      const raw = JSON.stringify(payload);
      await health.guard(
        async () => {
          await publisher.publish(channel, raw);
        },
        // Redis is down: this instance's own subscribers still get it, asynchronously as from the network.
        () => queueMicrotask(() => deliver(channel, raw)),
      );
    },
    async subscribe(topic, onMessage) {
      const channel = prefix + topic;
      const handler = (raw: string) => onMessage(JSON.parse(raw));
      let handlers = channels.get(channel);
      const first = !handlers;
      if (!handlers) channels.set(channel, (handlers = new Set()));
      handlers.add(handler);
      if (first) {
        const join = health
          .guard(
            async () => {
              await ready();
              await subscriber.subscribe(channel);
            },
            noop, // live here now; the channel is subscribed when Redis is back (onReady)
          )
          .finally(() => joining.delete(channel));
        joining.set(channel, join);
      }
      try {
        await joining.get(channel);
      } catch (e) {
        handlers.delete(handler);
        if (handlers.size === 0 && channels.get(channel) === handlers) channels.delete(channel);
        throw e;
      }
      return async () => {
        const set = channels.get(channel);
        if (!set?.delete(handler) || set.size > 0) return;
        channels.delete(channel);
        if (subscriber.status === 'ready') await subscriber.unsubscribe(channel).catch(noop);
      };
    },
    async close() {
      subscriber.off('message', deliver);
      subscriber.off('ready', onReady);
      const all = [...channels.keys()];
      channels.clear();
      if (owned) {
        await Promise.allSettled([publisher.quit(), subscriber.quit()]);
        return;
      }
      if (all.length > 0 && subscriber.status === 'ready') await subscriber.unsubscribe(...all).catch(noop);
    },
  };
}
