// Issue 12 (scale-out), the Redis Cluster driver (proxy/kv_cluster.c) through the KV REST API: a real cluster of 3
// primaries and 3 replicas on loopback (tests/integration/topology.mjs startCluster()), a real kvedge with a
// `redis: {cluster: {nodes}}` store. Every command must land on its slot's primary; refusals are Redis' own words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, http, startKvedge, waitFor } from './harness.mjs';
import { kvConfig, RW_TOKEN } from './kv_helpers.mjs';
import { startCluster } from './topology.mjs';
import { redisCli } from './cluster_helpers.mjs';

const T = { timeout: 120_000 };

const kv = (k, cmd) => http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(cmd) });
const kvPath = (k, p, body) =>
    http('POST', `${k.url}/kv/${p}`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(body) });

/** The primary (fixture node) that serves `key` now, by asking every primary whether it owns the key's slot. */
async function ownerOf(c, key) {
    const slot = Number(await c.clients[0].call('CLUSTER', 'KEYSLOT', key));
    for (const line of (await c.clients[0].call('CLUSTER', 'NODES')).trim().split('\n')) {
        const f = line.split(' ');
        if (!f[2].includes('master')) continue;
        for (const r of f.slice(8)) {
            const [a, b] = r.split('-').map(Number);
            if (slot >= a && slot <= (b ?? a)) return c.nodes.find((n) => `127.0.0.1:${n.port}` === f[1].split('@')[0]);
        }
    }
    throw new Error(`no primary for ${key}`);
}

/** Keys whose slots are served by each of the 3 primaries (one per primary). */
async function keysOnEveryShard(c, prefix) {
    const byPort = new Map();
    for (let i = 0; byPort.size < 3 && i < 100; i++) {
        const key = `${prefix}${i}`;
        const owner = await ownerOf(c, key);
        if (!byPort.has(owner.port)) byPort.set(owner.port, key);
    }
    assert.equal(byPort.size, 3, 'keys on all three primaries');
    return [...byPort.values()];
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
    const slot = Number(await c.clients[0].call('CLUSTER', 'KEYSLOT', key));
    const src = await ownerOf(c, key);
    const dst = (await c.primaries()).find((p) => p !== src);
    const S = src.client(), D = dst.client();
    const [sid, did] = [await S.call('CLUSTER', 'MYID'), await D.call('CLUSTER', 'MYID')];
    await D.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', sid);
    await S.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', did);
    for (;;) {
        const keys = await S.call('CLUSTER', 'GETKEYSINSLOT', slot, 100);
        if (keys.length === 0) break;
        await S.call('MIGRATE', '127.0.0.1', dst.port, '', 0, 5000, 'KEYS', ...keys);
    }
    for (const p of await c.primaries()) await p.client().call('CLUSTER', 'SETSLOT', slot, 'NODE', did);
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
