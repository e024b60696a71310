// Issue 12, Redis Cluster: the cache and the sessions on a `redis: {cluster: {nodes}}` store (the fixture of
// tests/integration/topology.mjs startCluster(): 3 primaries on loopback, through proxy/kv_cluster.c). The same
// scenarios as cache_cluster_split.test.mjs (tests/integration/cache_cluster_helpers.mjs), now with the keys spread
// over three nodes: fills with their tag and route set entries, hits, tag, route and URL purges across shards, a
// revalidation, sessions.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { fillHitPurge, sessions, startOrigin, threeNodeCluster, varyAndRevalidate, withKvedge } from './cache_cluster_helpers.mjs';

const T = { timeout: 120_000 };
let store, origin;

before(async () => {
    store = await threeNodeCluster();
    origin = await startOrigin();
});

after(async () => {
    await origin?.stop();
    await store?.stop();
});

beforeEach(async () => {
    await store.flush();
    origin.clear();
});

test('issue 12 cluster: on the 3-node fixture, fills (set entries first, then the object), hits, a tag purge and a route purge across shards', T, async () => {
    await withKvedge(store, origin, {}, (k) => fillHitPurge(store, origin, k));
    assert.equal(store.spread, 3, 'the objects and their sets live on all three primaries');
});

test('issue 12 cluster: on the 3-node fixture, a Vary object purged by URL and by tag; a revalidation extends its sets', T, async () => {
    await withKvedge(store, origin, {}, (k) => varyAndRevalidate(store, origin, k));
});

test('issue 12 cluster: on the 3-node fixture, sessions: login from an anonymous session (two slots, in order), set, rotate, logout all', T, async () => {
    await withKvedge(store, origin, {}, (k) => sessions(store, origin, k));
});
