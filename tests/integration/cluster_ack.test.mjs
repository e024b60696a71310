// Issue 12 (scale-out): min_replicas_ack on a Redis Cluster store (proxy/kv_cluster.c cluster_ack, proxy/kv_ack.c). In
// cluster mode PUBLISH does not move a primary's replication offset (scale_cluster.test.mjs measures it), so each
// primary's wait link writes a marker key in one of its own slots, then WAITs. A request that wrote on several shards
// is answered only when every one of them was acknowledged. Real cluster of 3 primaries and 3 replicas on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, http, startKvedge, waitFor } from './harness.mjs';
import { kvConfig, RW_TOKEN } from './kv_helpers.mjs';
import { keySlot, shardMap, shardOf as shardOfSlot } from './cluster_helpers.mjs';
import { startCluster } from './topology.mjs';

const T = { timeout: 120_000 };
const kv = (k, cmd) => http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(cmd) });
const pipeline = (k, cmds) =>
    http('POST', `${k.url}/kv/pipeline`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(cmds) });

/** {primary, replica} fixture handles of the shard that serves `key` (the cluster's own map: cluster_helpers.mjs). */
async function shardOf(c, key) {
    const shard = shardOfSlot(await shardMap(c), keySlot(key));
    const byPort = (port) => c.nodes.find((n) => n.port === port);
    return { primary: byPort(shard.primary.port), replica: byPort(shard.replicas[0].port) };
}

test('issue 12 cluster: min_replicas_ack: writes answered once their shard\'s replica has them; a stopped replica fails its shard\'s writes only', T, async () => {
    const c = await startCluster();
    let k;
    try {
        k = await startKvedge(kvConfig({ cluster: { nodes: c.addresses.slice(0, 3) }, command_timeout: '2s', min_replicas_ack: 1,
            min_replicas_ack_timeout: '300ms' }));
        await waitFor(async () => (await kv(k, ['PING'])).status === 200, { timeoutMs: 5000, message: 'the slot map' });
        // keys on two different shards
        const a = await shardOf(c, '{a}k');
        let other = null;
        for (let i = 0; !other; i++) {
            const s = await shardOf(c, `{b${i}}k`);
            if (s.primary !== a.primary) other = { key: `{b${i}}k`, ...s };
        }
        // every shard up: acknowledged, and the replica has the write when kvedge answers
        for (const key of ['{a}k', other.key]) {
            const r = await kv(k, ['SET', key, 'v1']);
            assert.equal(r.status, 200, r.body);
        }
        const ra = a.replica.client();
        await ra.call('READONLY');
        assert.equal(await ra.get('{a}k'), 'v1', 'the replica had the write when it was acknowledged');
        // the marker is a key of kvedge's in one of the primary's own slots, expiring at once
        const markers = await a.primary.client().keys('__kvedge:ack:*');
        assert.ok(markers.length <= 1, `at most one marker per primary: ${markers}`);

        // the replica of {a}'s shard stops: its writes are not acknowledged (503), the other shard's are
        process.kill(a.replica.pid, 'SIGSTOP');
        try {
            const w = await kv(k, ['SET', '{a}k', 'v2']);
            assert.equal(w.status, 503, w.body);
            assert.match(w.body, /write not acknowledged/);
            const o = await kv(k, ['SET', other.key, 'v2']);
            assert.equal(o.status, 200, o.body);
            // a pipeline that wrote on both shards waits for both: not acknowledged
            const p = await pipeline(k, [['SET', other.key, 'v3'], ['SET', '{a}k', 'v3']]);
            assert.equal(p.status, 503, p.body);
            // reads do not wait
            const g = await kv(k, ['GET', other.key]);
            assert.deepEqual(JSON.parse(g.body), { result: 'v3' });
        } finally {
            process.kill(a.replica.pid, 'SIGCONT');
        }
        await waitFor(async () => (await kv(k, ['SET', '{a}k', 'v4'])).status === 200,
            { timeoutMs: 10_000, message: 'writes acknowledged again once the replica runs' });
        // a transaction and a multi-shard pipeline are acknowledged again
        const tx = await http('POST', `${k.url}/kv/multi-exec`, { headers: { authorization: `Bearer ${RW_TOKEN}` },
            body: JSON.stringify([['INCR', '{a}n'], ['INCR', '{a}n']]) });
        assert.equal(tx.status, 200, tx.body);
        const p2 = await pipeline(k, [['SET', other.key, 'v5'], ['SET', '{a}k', 'v5']]);
        assert.equal(p2.status, 200, p2.body);
        assert.match(k.stderr(), /min_replicas_ack on .*: WAIT 1 300: 0 acknowledged/, 'the shortfall is logged');
    } finally {
        const r = await k?.stop();
        await c.stop();
        if (r) assertCleanExit(r);
    }
});
