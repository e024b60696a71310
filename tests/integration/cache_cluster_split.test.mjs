// Issue 12, Redis Cluster: the cache's and the sessions' writes on a sharded store, on a one-node Redis Cluster (one
// cluster-enabled redis-server serving all 16384 slots). It is a real Cluster node: it refuses a MULTI/EXEC whose keys
// are in more than one slot, and a command or a script whose declared keys are (CROSSSLOT), as every node of a larger
// cluster does. Reached as one Redis (a `url`: it serves every slot, so no MOVED), the cache sends its one atomic
// batch and the node refuses it (the first test: what a cluster would meet without the split); reached through the
// cluster driver (`cluster: {nodes}`, a sharded link: kve_kv_is_sharded), the cache takes its Cluster path: the tag
// and route set entries first, then the object's one-slot atomic batch (handlers/cache_store.c). Limit: a one-node cluster does not catch a script's
// undeclared key of another slot (it serves every slot); cache_cluster.test.mjs runs the same on the 3-node fixture.
import { test, before, after, beforeEach } from 'node:test';
import { asCluster, fillHitPurge, oneNodeCluster, refusedFill, sessions, startOrigin, varyAndRevalidate, withKvedge } from './cache_cluster_helpers.mjs';

let store, origin;

before(async () => {
    store = await oneNodeCluster();
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

test('issue 12 cluster: without the split, a Cluster node refuses the cache\'s one atomic batch of an object and its set entries (CROSSSLOT): nothing is stored', async () => {
    await withKvedge(store, origin, {}, (k) => refusedFill(store, origin, k));
});

test('issue 12 cluster: on a sharded store a fill writes its set entries, then the object: hits, a tag purge and a route purge work on a Cluster node', async () => {
    await withKvedge(asCluster(store), origin, {}, (k) => fillHitPurge(store, origin, k));
});

test('issue 12 cluster: on a sharded store a Vary object (index, variant set) is stored, served and purged by URL and by tag; a revalidation extends its sets', async () => {
    await withKvedge(asCluster(store), origin, {}, (k) => varyAndRevalidate(store, origin, k));
});

test('issue 12 cluster: sessions on a Cluster node: login (from an anonymous session), set, rotate, logout all; every script\'s keys in the user\'s slot', async () => {
    await withKvedge(asCluster(store), origin, {}, (k) => sessions(store, origin, k));
});
