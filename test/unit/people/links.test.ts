import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ParticipantModel } from '../../../src/connectors/types';
import {
  createFileLinkStore,
  createMemoryLinkStore,
  createRedisLinkStore,
  type LinkStore,
} from '../../../src/people/links';
import { formPeople, participantKey } from '../../../src/people/people';
import { randomPrefix, redisClients } from '../../utils/redis';

const contact = (sourceId: string, nativeId: string, email: string | null = null): ParticipantModel => ({
  sourceId,
  nativeId,
  name: null,
  email,
  phone: null,
  kind: 'CONTACT',
  avatarUrl: null,
  avatarColor: null,
});
const a = contact('a', '1', 'ann@example.com');
const b = contact('b', '1', 'ANN@example.com');
const c = contact('c', '1', 'carl@example.com');
const d = contact('d', '1', 'dora@example.com');
const [ka, kb, kc, kd] = [a, b, c, d].map(participantKey) as [string, string, string, string];

async function groups(store: LinkStore, ps = [a, b, c, d]) {
  const links = await store.read();
  return formPeople({ participants: ps, conversationsOf: new Map(), links })
    .people.map((p) =>
      p.members
        .map((m) => m.sourceId)
        .sort()
        .join(''),
    )
    .sort();
}

describe('manual links over the automatic rule', () => {
  it('links join participants whose emails differ, idempotently', async () => {
    const s = createMemoryLinkStore();
    expect(await groups(s)).toEqual(['ab', 'c', 'd']);
    await s.link([kc, kd]);
    await s.link([kd, kc]);
    expect(await groups(s)).toEqual(['ab', 'cd']);
    await s.link([ka, kc]);
    expect(await groups(s)).toEqual(['abcd']);
  });

  it('an unlink pins a participant apart even though its email matches, and keeps the others linked', async () => {
    const s = createMemoryLinkStore();
    await s.link([ka, kc, kd]);
    await s.unlink(ka);
    await s.unlink(ka);
    expect(await groups(s)).toEqual(['a', 'b', 'cd']);
    // Linked again by hand, it joins again.
    await s.link([ka, kb]);
    expect(await groups(s)).toEqual(['ab', 'cd']);
  });

  it('ignores links to participants the viewer does not see', async () => {
    const s = createMemoryLinkStore();
    await s.link([kc, kd]);
    expect(await groups(s, [a, c])).toEqual(['a', 'c']);
  });
});

describe('link stores survive a restart', () => {
  it('in a local file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'people-links-'));
    try {
      const path = join(dir, 'sub', 'links.json');
      const s1 = createFileLinkStore(path);
      await s1.link([kc, kd]);
      await s1.unlink(ka);
      const s2 = createFileLinkStore(path);
      expect(await groups(s2)).toEqual(['a', 'b', 'cd']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('in Redis, shared by instances', async () => {
    const redis = redisClients();
    const prefix = randomPrefix('people-links');
    try {
      const s1 = createRedisLinkStore(redis.open(), prefix);
      await s1.link([kc, kd]);
      await s1.link([kd, kb]);
      await s1.unlink(kd);
      const s2 = createRedisLinkStore(redis.open(), prefix);
      // b's links go to c when d is split off; a and b share an email.
      expect(await groups(s2)).toEqual(['abc', 'd']);
    } finally {
      await redis.closeAll(prefix);
    }
  });
});
