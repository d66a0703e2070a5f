import { once } from 'node:events';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { PubSubTransport } from '../pubsub';

/** Caller-owned connections: `subscriber` is given over to subscriber mode; `publisher` may be shared. */
export interface RedisPubSubConnections {
  publisher: Redis;
  subscriber: Redis;
}

/**
 * Pub/sub across gateway instances through Redis, with graphql-redis-subscriptions over ioredis
 * (a publisher and a subscriber connection; JSON payloads). Given a URL, it opens both and closes them; given
 * connections (the gateway's shared set, server/services.ts), close() only drops its subscriptions.
 */
export function createRedisPubSub(
  connection: string | RedisPubSubConnections,
  prefix = 'switchboard:',
): PubSubTransport {
  const owned = typeof connection === 'string';
  const { publisher, subscriber } =
    typeof connection === 'string'
      ? {
          publisher: new Redis(connection, { lazyConnect: false, maxRetriesPerRequest: 3 }),
          subscriber: new Redis(connection, { lazyConnect: false, maxRetriesPerRequest: 3 }),
        }
      : connection;
  const pubsub = new RedisPubSub({ publisher, subscriber });
  /** Subscription ids, to drop them on close() when the connections are the caller's. */
  const ids = new Set<number>();
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
  return {
    async publish(topic, payload) {
      await pubsub.publish(prefix + topic, payload);
    },
    async subscribe(topic, onMessage) {
      await ready();
      const id = await pubsub.subscribe(prefix + topic, (payload: unknown) => onMessage(payload));
      ids.add(id);
      return async () => {
        ids.delete(id);
        pubsub.unsubscribe(id);
      };
    },
    async close() {
      if (owned) {
        await pubsub.close();
        return;
      }
      for (const id of ids) pubsub.unsubscribe(id);
      ids.clear();
    },
  };
}
