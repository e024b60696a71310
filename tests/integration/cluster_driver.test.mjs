// Issue 12 (scale-out), the Redis Cluster driver (proxy/kv_cluster.c) through the KV REST API: a real cluster of 3
// primaries and 3 replicas on loopback (tests/integration/topology.mjs startCluster()), a real kvedge with a
// `redis: {cluster: {nodes}}` store. Every command must land on its slot's primary; refusals are Redis' own words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, http, startKvedge, waitFor } from './harness.mjs';
import { kvConfig, RW_TOKEN } from './kv_helpers.mjs';
import { startCluster } from './topology.mjs';
import { keySlot, keysOnEveryShard as keysOnShards, moveSlot, ownerIndex, redisCli, shardMap } from './cluster_helpers.mjs';

const T = { timeout: 120_000 };

const kv = (k, cmd) => http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(cmd) });
const kvPath = (k, p, body) =>
    http('POST', `${k.url}/kv/${p}`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(body) });

/** The primary (fixture node handle) that serves `key` now, from the cluster's own map (cluster_helpers.mjs). */
async function ownerOf(c, key) {
    return c.nodes[ownerIndex(c, await shardMap(c), keySlot(key))];
}

/** One key on each of the 3 primaries. */
async function keysOnEveryShard(c, prefix) {
    const keys = await keysOnShards(c, await shardMap(c), prefix);
    assert.equal(new Set(keys.map((k) => k.node)).size, 3, 'keys on all three primaries');
    return keys.map((k) => k.key);
}

async function startStack() {
    const c = await startCluster();
    let k;
    try {
        k = await startKvedge(kvConfig({ cluster: { nodes: c.addresses.slice(0, 2) }, command_timeout: '1000ms' }));
        // the store is usable once the first slot map came (until then: 503 at once, never a wait)
        await waitFor(async () => (await kv(k, ['PING'])).status === 200, { timeoutMs: 5000, message: `the slot map\n${k.stderr()}` });
    } catch (e) {
        await k?.stop();
        await c.stop();
        throw e;
    }
    return {
        c, k, async stop() {
            const r = await k.stop();
            await c.stop();
            assertCleanExit(r);
        },
    };
}

test('issue 12 cluster: commands go to their slot\'s primary; CROSSSLOT refused in Redis\' words; transactions in one slot', T, async () => {
    const s = await startStack();
    try {
        const { c, k } = s;
        const keys = await keysOnEveryShard(c, 'k');
        for (const key of keys) {
            const r = await kv(k, ['SET', key, `v-${key}`]);
            assert.equal(r.status, 200, r.body);
            const owner = await ownerOf(c, key);
            assert.equal(await owner.client().get(key), `v-${key}`, `${key} is on its primary`);
            const g = await kv(k, ['GET', key]);
            assert.deepEqual(JSON.parse(g.body), { result: `v-${key}` });
        }
        // a pipeline over the three shards comes back in order
        const p = await kvPath(k, 'pipeline', keys.flatMap((key) => [['INCR', `${key}:n`], ['GET', key]]));
        assert.equal(p.status, 200, p.body);
        assert.deepEqual(JSON.parse(p.body), keys.flatMap((key) => [{ result: 1 }, { result: `v-${key}` }]));
        // keys in different slots: Redis' CROSSSLOT, nothing sent
        const cross = await kv(k, ['MSET', keys[0], 'x', keys[1], 'y']);
        assert.equal(cross.status, 400, cross.body);
        assert.match(cross.body, /CROSSSLOT Keys in request don't hash to the same slot/);
        assert.equal(await (await ownerOf(c, keys[0])).client().get(keys[0]), `v-${keys[0]}`, 'nothing written');
        // a hash tag keeps them together
        const tagged = await kv(k, ['MSET', '{u1}a', '1', '{u1}b', '2']);
        assert.equal(tagged.status, 200, tagged.body);
        assert.deepEqual(JSON.parse((await kv(k, ['MGET', '{u1}a', '{u1}b'])).body), { result: ['1', '2'] });
        // a transaction across slots: refused whole, nothing written
        const tx = await kvPath(k, 'multi-exec', [['SET', keys[0], 'tx'], ['SET', keys[1], 'tx']]);
        assert.equal(tx.status, 400, tx.body);
        assert.match(tx.body, /CROSSSLOT/);
        for (const key of keys.slice(0, 2)) assert.equal(await (await ownerOf(c, key)).client().get(key), `v-${key}`);
        // in one slot: applied
        const tx1 = await kvPath(k, 'multi-exec', [['SET', '{u2}a', 'A'], ['INCR', '{u2}n'], ['GET', '{u2}a']]);
        assert.equal(tx1.status, 200, tx1.body);
        assert.deepEqual(JSON.parse(tx1.body), [{ result: 'OK' }, { result: 1 }, { result: 'A' }]);
        // keyless: any primary
        assert.deepEqual(JSON.parse((await kv(k, ['PING'])).body), { result: 'PONG' });
        // no meaning on a cluster
        const sel = await kv(k, ['SELECT', '1']);
        assert.ok(sel.status >= 400, sel.body);
        // a script's slot is its KEYS'
        const ev = await kv(k, ['EVAL', "return redis.call('GET', KEYS[1])", '1', keys[2]]);
        assert.deepEqual(JSON.parse(ev.body), { result: `v-${keys[2]}` });
    } finally {
        await s.stop();
    }
});

/** Moves `key`'s slot (with its keys) from its primary to another one, as redis-cli --cluster reshard does. */
async function moveSlotOf(c, key) {
    const slot = keySlot(key);
    const src = await ownerOf(c, key);
    const dst = (await c.primaries()).find((p) => p !== src);
    await moveSlot(c, slot, c.nodes.indexOf(src), c.nodes.indexOf(dst));
    return { slot, src, dst };
}

test('issue 12 cluster: a slot moved to another primary: MOVED followed, the map fixed', T, async () => {
    const s = await startStack();
    try {
        const { c, k } = s;
        const r = await kv(k, ['SET', '{mv}a', 'before']);
        assert.equal(r.status, 200, r.body);
        const { src, dst } = await moveSlotOf(c, '{mv}a');
        assert.equal(await dst.client().get('{mv}a'), 'before', 'the key moved');
        // every request after the move answers right (the first ones through a MOVED), on both threads
        for (let i = 0; i < 20; i++) {
            const g = await kv(k, ['GET', '{mv}a']);
            assert.deepEqual(JSON.parse(g.body), { result: 'before' }, g.body);
        }
        const w = await kv(k, ['SET', '{mv}a', 'after']);
        assert.equal(w.status, 200, w.body);
        assert.equal(await dst.client().get('{mv}a'), 'after', 'written on the new primary');
        assert.notEqual(src.port, dst.port);
        // a transaction in the moved slot follows too
        const tx = await kvPath(k, 'multi-exec', [['INCR', '{mv}n'], ['INCR', '{mv}n']]);
        assert.equal(tx.status, 200, tx.body);
        assert.deepEqual(JSON.parse(tx.body), [{ result: 1 }, { result: 2 }]);
    } finally {
        await s.stop();
    }
});

test('issue 12 cluster: a primary that serves no slot any more has its links closed (the node table stays bounded)', T, async () => {
    const s = await startStack();
    try {
        const { c, k } = s;
        const a = c.nodes[2]; // a primary (redis-cli makes the first three primaries), not a seed of kvedge's
        const b = c.nodes[0];
        const A = a.client(), B = b.client();
        const aid = await A.call('CLUSTER', 'MYID');
        // a key on A, read through kvedge on both threads: links to A exist
        let key = null;
        for (let i = 0; !key; i++) if ((await ownerOf(c, `gone${i}`)) === a) key = `gone${i}`;
        for (let i = 0; i < 6; i++) assert.equal((await kv(k, ['SET', key, 'x'])).status, 200);
        // every slot of A moves away (redis-cli's rebalance with A's weight 0: MIGRATE and SETSLOT, as an operator does)
        const rb = await redisCli(['--cluster', 'rebalance', `127.0.0.1:${b.port}`, '--cluster-weight', `${aid}=0`, '--cluster-yes'], { timeoutMs: 60_000 });
        assert.equal(rb.code, 0, rb.out);
        await waitFor(async () => {
            const line = (await B.call('CLUSTER', 'NODES')).split('\n').find((l) => l.startsWith(aid));
            return line !== undefined && line.trim().split(' ').length === 8; // no slot ranges after the 8 fixed fields
        }, { timeoutMs: 10_000, message: 'the cluster sees A without slots' });
        // a command for one of A's old slots meets MOVED (or the new map), kvedge asks for the map, and A's links close
        const closed = () => (k.stderr().match(new RegExp(`node 127\\.0\\.0\\.1:${a.port} serves no slot any more; its link is closed`, 'g')) ?? []).length;
        try {
            await waitFor(async () => {
                assert.equal((await kv(k, ['SET', key, 'y'])).status, 200);
                return closed() >= 1;
            }, { timeoutMs: 25_000, intervalMs: 200, message: 'A\'s links closed' });
        } catch (e) {
            throw new Error(`${e.message}\n${k.stderr()}`);
        }
        assert.equal(await B.get(key), 'y', 'written on the new owner');
    } finally {
        await s.stop();
    }
});
