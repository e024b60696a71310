// Issue 12 (scale-out), the Redis Cluster store: the keyless commands (docs/scale-out.md, "Cluster: design",
// "Keyless commands"; proxy/kv_cluster_fanout.c) through the KV REST API with the real SDKs, on a real cluster
// (startCluster(): 3 primaries, 3 replicas). DBSIZE sums the primaries, KEYS concatenates them, SCAN walks them
// shard by shard with kvedge's cursors, FLUSHDB flushes each, RANDOMKEY finds a key whichever shard has it, SCRIPT
// LOAD/EXISTS reach every primary; a read-only token gets none of what it must not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from '@upstash/redis';
import { createClient } from '@vercel/kv';
import { startKvedge, waitFor } from './harness.mjs';
import { RO_TOKEN, RW_TOKEN, kvConfig } from './kv_helpers.mjs';
import { startCluster } from './topology.mjs';

const T = { timeout: 120_000 };
let c, k, url, primaries;

before(async () => {
    c = await startCluster();
    try {
        k = await startKvedge(kvConfig({ cluster: { nodes: c.addresses.slice(0, 2) } }, { allow_keys: true, allow_flush: true }));
        url = `${k.url}/kv`;
        primaries = (await c.primaries()).map((n) => c.clients[c.nodes.indexOf(n)]);
    } catch (e) {
        await c.stop();
        throw e;
    }
});

after(async () => {
    const r = k ? await k.stop() : null;
    await c?.stop();
    if (r) assert.doesNotMatch(r.stderr, /ERROR: AddressSanitizer|LeakSanitizer|runtime error/);
});

const rw = () => new Redis({ url, token: RW_TOKEN, retry: false });
const ro = () => new Redis({ url, token: RO_TOKEN, retry: false });
const keyNames = (n) => Array.from({ length: n }, (_, i) => `fan:${i}`);
const sum = async (f) => (await Promise.all(primaries.map(f))).reduce((a, b) => a + b, 0);

async function fill(r, names) {
    await rw().flushdb();
    const p = r.pipeline();
    for (const name of names) p.set(name, 'v');
    await p.exec();
}

test('issue 12 cluster: DBSIZE is the sum of the primaries, KEYS every primary\'s keys', T, async () => {
    const r = rw(), names = keyNames(300);
    await fill(r, names);
    // the keys really are spread: every primary has some
    for (const p of primaries) assert.ok((await p.dbsize()) > 0, 'every shard has keys');
    assert.equal(await sum((p) => p.dbsize()), 300);
    assert.equal(await r.dbsize(), 300);
    assert.deepEqual((await r.keys('fan:*')).sort(), [...names].sort());
    assert.deepEqual((await r.keys('fan:1?')).sort(), Array.from({ length: 10 }, (_, i) => `fan:1${i}`).sort());
});

test('issue 12 cluster: SCAN walks every key of every shard with kvedge cursors; bad cursors are refused', T, async () => {
    const r = rw(), names = keyNames(300);
    await fill(r, names);
    for (const count of [7, 100]) {
        const seen = new Map();
        let cursor = '0', rounds = 0;
        do {
            const [next, keys] = await r.scan(cursor, { match: 'fan:*', count });
            assert.equal(typeof next, 'string');
            assert.ok(Number(next) < 2 ** 53, 'a cursor JavaScript reads exactly');
            for (const key of keys) seen.set(key, (seen.get(key) ?? 0) + 1);
            cursor = next;
            assert.ok(++rounds < 2000, 'the scan ends');
        } while (cursor !== '0');
        assert.deepEqual([...seen.keys()].sort(), [...names].sort(), `COUNT ${count}: every key`);
        assert.ok(rounds >= 3, 'at least one call per shard');
    }
    // @vercel/kv's iterator runs the same cursors
    const kv = createClient({ url, token: RW_TOKEN });
    const all = new Set();
    for await (const key of kv.scanIterator({ match: 'fan:*', count: 50 })) all.add(key);
    assert.equal(all.size, 300);
    // a cursor kvedge never gave: slot 1 starts no shard; not a number; past 2^53
    for (const bad of ['1', 'abc', '9007199254740993'])
        await assert.rejects(r.scan(bad), /invalid cursor/, bad);
});

test('issue 12 cluster: FLUSHDB flushes every primary; RANDOMKEY finds the one key whichever shard has it', T, async () => {
    const r = rw();
    await fill(r, keyNames(50));
    assert.equal(await r.flushdb(), 'OK');
    assert.equal(await sum((p) => p.dbsize()), 0, 'every shard flushed');
    assert.equal(await r.randomkey(), null);
    for (const name of ['a', 'b', 'c', 'lonely-key', '{x}y']) {
        await r.flushdb();
        await r.set(name, 1);
        for (let i = 0; i < 6; i++) assert.equal(await r.randomkey(), name);
    }
    await r.set('other', 1);
    assert.ok(['{x}y', 'other'].includes(await r.randomkey()));
    assert.equal(await r.flushall(), 'OK');
    assert.equal(await r.dbsize(), 0);
});

test('issue 12 cluster: SCRIPT LOAD reaches every primary, SCRIPT EXISTS says 1 only where all have it', T, async () => {
    const r = rw();
    const sha = await r.scriptLoad('return 42');
    assert.match(sha, /^[0-9a-f]{40}$/);
    for (const p of primaries) assert.deepEqual(await p.script('EXISTS', sha), [1], 'loaded on every primary');
    const only = await primaries[0].script('LOAD', 'return 43');
    assert.deepEqual(await r.scriptExists(sha, only), [1, 0]);
    // EVALSHA of a key on any shard finds it
    for (const key of ['a', 'b', 'c']) assert.equal(await r.evalsha(sha, [key], []), 42);
});

test('issue 12 cluster: a read-only token gets DBSIZE but not KEYS, SCAN, FLUSHDB or SCRIPT LOAD', T, async () => {
    const r = ro();
    assert.equal(typeof (await r.dbsize()), 'number');
    await assert.rejects(r.keys('*'));
    await assert.rejects(r.scan('0'));
    await assert.rejects(r.flushdb());
    await assert.rejects(r.scriptLoad('return 1'));
    await rw().set('still-here', 1);
    assert.equal(await rw().get('still-here'), 1, 'nothing was flushed');
});

test('issue 12 cluster: KEYS holds the shards\' keys together to kv.max_reply_size', T, async () => {
    await fill(rw(), keyNames(300));
    // ~190 bytes per key as the link counts a reply: 300 keys (~57 KB) pass 32 KiB, the ~100 of any one shard do not
    const small = await startKvedge(kvConfig({ cluster: { nodes: c.addresses.slice(0, 1) } }, { allow_keys: true, max_reply_size: '32KiB' }));
    try {
        const r = new Redis({ url: `${small.url}/kv`, token: RW_TOKEN, retry: false });
        await assert.rejects(r.keys('*'), /max response size exceeded/);
        assert.equal((await r.keys('fan:1*')).length, 111, '111 keys fit');
        assert.equal(await r.dbsize(), 300, 'the link is fine afterwards');
    } finally {
        const res = await small.stop();
        assert.doesNotMatch(res.stderr, /ERROR: AddressSanitizer|LeakSanitizer|runtime error/);
    }
});

test('issue 12 cluster: a primary down fails the fan-outs with an error, and they work again after the failover', T, async () => {
    const r = rw();
    await fill(r, keyNames(60));
    const [victim] = await c.primaries();
    const victimClient = c.clients[c.nodes.indexOf(victim)];
    await victimClient.call('SHUTDOWN', 'NOSAVE').catch(() => {}); // the node exits: its connections drop at once
    await waitFor(async () => {
        try {
            await r.dbsize();
            return false;
        } catch (e) {
            return /unavailable|connection|timed out|503|504/i.test(String(e));
        }
    }, { timeoutMs: 10_000, message: 'DBSIZE fails while a primary is down' });
    await assert.rejects(r.keys('*'));
    // the replica takes over (cluster-node-timeout 2 s + the election); the map is refreshed; every key is still there
    const alive = c.clients.filter((cl, i) => c.nodes[i] !== victim);
    await waitFor(async () => {
        try {
            return (await r.dbsize()) === 60;
        } catch {
            return false;
        }
    }, { timeoutMs: 30_000, intervalMs: 200, message: 'DBSIZE answers again after the failover' });
    const masters = [];
    for (const cl of alive) if ((await cl.info('replication')).includes('role:master')) masters.push(cl);
    assert.equal(masters.length, 3, 'a replica was promoted');
    assert.equal((await Promise.all(masters.map((m) => m.dbsize()))).reduce((a, b) => a + b, 0), 60);
    assert.equal((await r.keys('fan:*')).length, 60);
});
