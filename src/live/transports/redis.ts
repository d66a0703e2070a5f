import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { PubSubTransport } from '../pubsub';

/**
 * Pub/sub across gateway instances through Redis, with graphql-redis-subscriptions over ioredis
 * (a publisher and a subscriber connection; JSON payloads).
 */
export function createRedisPubSub(url: string, prefix = 'switchboard:'): PubSubTransport {
  const pubsub = new RedisPubSub({
    publisher: new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 }),
    subscriber: new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 3 }),
  });
  return {
    async publish(topic, payload) {
      await pubsub.publish(prefix + topic, payload);
    },
    async subscribe(topic, onMessage) {
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
