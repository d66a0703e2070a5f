import { once } from 'node:events';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { PubSubTransport } from '../pubsub';

/**
 * Pub/sub across gateway instances through Redis, with graphql-redis-subscriptions over ioredis
 * (a publisher and a subscriber connection; JSON payloads).
 */
export function createRedisPubSub(url: string, prefix = 'switchboard:'): PubSubTransport {
  const subscriber = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 });
  const pubsub = new RedisPubSub({
    publisher: new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 }),
    subscriber,
  });
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
      return async () => {
        pubsub.unsubscribe(id);
      };
    },
    async close() {
      await pubsub.close();
    },
  };
}
