/** Jest globalTeardown: stops the throwaway redis-server that redis-global-setup.ts started, if any. */
import { stopThrowawayRedis } from './redis-global-setup';

export default async function globalTeardown(): Promise<void> {
  await stopThrowawayRedis();
}
