/**
 * The live engine's view of pub/sub: topics carry JSON-serializable payloads. Two interchangeable transports:
 * in memory (the embedded default, one process) and Redis (several instances; `REDIS_URL` or `redis.url`).
 * Both run the same test suite (test/live/pubsub.test.ts).
 */
export interface PubSubTransport {
  publish(topic: string, payload: unknown): Promise<void>;
  /** Calls `onMessage` for each payload published on `topic` from now on; resolves once the subscription is live. */
  subscribe(topic: string, onMessage: (payload: unknown) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
