// Issue 12, Redis Cluster: the cache's and the sessions' writes on a sharded store, on a one-node Redis Cluster (one
// cluster-enabled redis-server serving all 16384 slots). It is a real Cluster node: it refuses a MULTI/EXEC whose keys
// are in more than one slot, and a command or a script whose declared keys are (CROSSSLOT), as every node of a larger
// cluster does; and since it serves every slot, kvedge's standalone Redis link talks to it without the cluster
// driver. KVEDGE_TEST_FORCE_SHARDED=1 (proxy/kv_internal.h, a test hook) makes every link say it is sharded
// (kve_kv_is_sharded), so the cache takes its Cluster path: the tag and route set entries first, then the object's
// one-slot atomic batch (handlers/cache_store.c). Without the hook the same fill is refused by the node (the first
// test: what the others would meet without the split). Limit: a one-node cluster does not catch a script's
// undeclared key of another slot (it serves every slot); cache_cluster.test.mjs runs the same on the 3-node fixture.
import { test, before, after, beforeEach } from 'node:test';
import { FORCE, fillHitPurge, oneNodeCluster, refusedFill, sessions, startOrigin, varyAndRevalidate, withKvedge } from './cache_cluster_helpers.mjs';

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
    await withKvedge(store, origin, FORCE, (k) => fillHitPurge(store, origin, k));
});

test('issue 12 cluster: on a sharded store a Vary object (index, variant set) is stored, served and purged by URL and by tag; a revalidation extends its sets', async () => {
    await withKvedge(store, origin, FORCE, (k) => varyAndRevalidate(store, origin, k));
});

test('issue 12 cluster: sessions on a Cluster node: login (from an anonymous session), set, rotate, logout all; every script\'s keys in the user\'s slot', async () => {
    await withKvedge(store, origin, FORCE, (k) => sessions(store, origin, k));
});
