import { EventEmitter } from 'node:events';
import type { PubSubTransport } from '../pubsub';

/** One-process pub/sub. Payloads are cloned through JSON so that both transports behave alike. */
export function createInMemoryPubSub(): PubSubTransport {
  const ee = new EventEmitter();
  ee.setMaxListeners(0);
  return {
    async publish(topic, payload) {
      const copy = JSON.stringify(payload);
      // Deliver asynchronously, as a network transport would.
      queueMicrotask(() => ee.emit(topic, copy));
    },
    async subscribe(topic, onMessage) {
      const listener = (raw: string) => onMessage(JSON.parse(raw));
      ee.on(topic, listener);
      return async () => {
        ee.off(topic, listener);
      };
    },
    async close() {
      ee.removeAllListeners();
    },
  };
}
