// Issue 12 (scale-out), the Redis Cluster topology: the test fixture first (tests/integration/topology.mjs
// startCluster(): 3 primaries, 3 replicas on loopback, redis-cli --cluster create), what the driver relies on, and
// `kvedge -t` on a `cluster:` store. The driver's own tests: cluster_*.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTempDir, runKvedge, SOURCE_DIR, writeConfig } from './harness.mjs';
import { kvConfig } from './kv_helpers.mjs';
import { startCluster } from './topology.mjs';

const T = { timeout: 120_000 };

function pidAlive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

test('issue 12 scale-out: cluster fixture: 3 primaries and 3 replicas come up with every slot served, and stop by PID', T, async () => {
    const c = await startCluster();
    const pids = c.nodes.map((n) => n.pid);
    try {
        assert.equal(c.nodes.length, 6);
        const primaries = await c.primaries(), replicas = await c.replicas();
        assert.equal(primaries.length, 3, 'three primaries');
        assert.equal(replicas.length, 3, 'three replicas');

        // every slot served exactly once, by a primary with one replica (CLUSTER SHARDS, Redis 7.0)
        const shards = await c.clients[0].call('CLUSTER', 'SHARDS');
        assert.equal(shards.length, 3);
        let slots = 0;
        const primaryPorts = new Set(primaries.map((n) => n.port));
        for (const shard of shards) {
            const s = Object.fromEntries(shard.reduce((a, v, i) => (i % 2 ? a : [...a, [v, shard[i + 1]]]), []));
            for (let i = 0; i < s.slots.length; i += 2) slots += s.slots[i + 1] - s.slots[i] + 1;
            const nodes = s.nodes.map((n) => Object.fromEntries(n.reduce((a, v, i) => (i % 2 ? a : [...a, [v, n[i + 1]]]), [])));
            const masters = nodes.filter((n) => n.role === 'master'), reps = nodes.filter((n) => n.role === 'replica');
            assert.equal(masters.length, 1, 'one primary per shard');
            assert.equal(reps.length, 1, 'one replica per shard');
            assert.ok(primaryPorts.has(masters[0].port), 'the shard primary is one of the primaries');
            assert.equal(masters[0].ip, '127.0.0.1');
        }
        assert.equal(slots, 16384, 'every slot assigned once');

        // a key written through its slot's primary is found there; another primary answers MOVED to it
        const slot = await c.clients[0].call('CLUSTER', 'KEYSLOT', 'kvedge-fixture');
        const owner = shards.find((sh) => {
            const s = sh[sh.indexOf('slots') + 1];
            for (let i = 0; i < s.length; i += 2) if (slot >= s[i] && slot <= s[i + 1]) return true;
            return false;
        });
        const ownerNodes = owner[owner.indexOf('nodes') + 1];
        const ownerPort = ownerNodes.map((n) => n[n.indexOf('port') + 1]).find((port) => primaryPorts.has(port));
        const iOwner = c.nodes.findIndex((n) => n.port === ownerPort);
        assert.equal(await c.clients[iOwner].set('kvedge-fixture', 'v'), 'OK');
        const other = c.nodes.findIndex((n, i) => i !== iOwner && primaryPorts.has(n.port));
        await assert.rejects(c.clients[other].get('kvedge-fixture'), new RegExp(`^ReplyError: MOVED ${slot} 127\\.0\\.0\\.1:${ownerPort}$`));

        // what the design's min_replicas_ack rests on (docs/scale-out.md, Cluster: design): in cluster mode PUBLISH (and
        // SPUBLISH) go over the cluster bus, not into the replication stream, so they do not move the primary's offset
        // and cannot be the marker a wait link's WAIT counts; a write to a key of the node's slots does
        const off = async () => Number(/master_repl_offset:(\d+)/.exec(await c.clients[iOwner].info('replication'))[1]);
        let before = await off();
        await c.clients[iOwner].publish('__kvedge:ack', '1');
        assert.equal(await off(), before, 'PUBLISH is not replicated in cluster mode');
        before = await off();
        await c.clients[iOwner].set('kvedge-fixture', 'w', 'PX', '1000');
        assert.ok((await off()) > before, 'a write moves the offset');
    } finally {
        await c.stop();
    }
    for (const pid of pids) assert.equal(pidAlive(pid), false, `node ${pid} stopped`);
});

test('issue 12 scale-out: cluster: kvedge -t checks a cluster store', T, async () => {
    const dir = makeTempDir();
    const check = (redis, name) => runKvedge(['-t', '-c', writeConfig(kvConfig(redis, {}, { listen: [{ host: '127.0.0.1', port: 1 }] }), { dir, name })]);
    const c = (o = {}) => ({ cluster: { nodes: ['127.0.0.1:7000', '127.0.0.1:7001'], ...o } });
    const bad = [
        [{ cluster: {} }, /cluster.nodes: list at least one node/],
        [{ cluster: null }, /cluster.nodes: list at least one node/],
        [c({ nodes: [] }), /cluster.nodes: list at least one node/],
        [c({ nodes: ['127.0.0.1'] }), /cluster.nodes\[0\]: "127.0.0.1" is not host:port \(a cluster node's address/],
        [c({ nodes: ['127.0.0.1:0'] }), /cluster.nodes\[0\]: .* is not host:port/],
        [c({ nodes: ['127.0.0.1:7000', '127.0.0.1:99999'] }), /cluster.nodes\[1\]: .* is not host:port/],
        [c({ nodes: ['redis://127.0.0.1:7000'] }), /cluster.nodes\[0\]: .* is not host:port/],
        [c({ nodes: ['user@127.0.0.1:7000'] }), /cluster.nodes\[0\]: .* is not host:port/],
        [c({ nodes: ['127.0.0.1:7000', '127.0.0.1:7000'] }), /cluster.nodes\[1\]: the same node as cluster.nodes\[0\]/],
        [c({ nodes: Array.from({ length: 17 }, (_, i) => `127.0.0.1:${7000 + i}`) }), /nodes/],
        [c({ unknown: 1 }), /unknown key "unknown"/],
        [{ cluster: ['127.0.0.1:7000'] }, /redis.cluster: expected a mapping/],
        [{ ...c(), url: 'redis://127.0.0.1:6379' }, /url: a cluster store finds its primaries and replicas from cluster.nodes/],
        [{ ...c(), replicas: ['redis://127.0.0.1:6380'] }, /replicas: a cluster store finds/],
        [{ ...c(), sentinel: { master: 'm', addresses: ['127.0.0.1:26379'] } }, /sentinel: a cluster store finds/],
        [{ ...c(), token: 'x'.repeat(32) }, /token: only a KV REST store/],
        [{ ...c(), min_replicas_ack: 1, min_replicas_ack_timeout: '2s', command_timeout: '1s' }, /min_replicas_ack_timeout: .* must be below command_timeout/],
        [{ ...c(), ca_file: '/etc/ssl/certs/ca-certificates.crt' }, /ca_file: only a store reached over TLS/],
    ];
    for (const [i, [redis, re]] of bad.entries()) {
        const r = await check(redis, `bad${i}.yaml`);
        assert.notEqual(r.code, 0, `${JSON.stringify(redis)} is refused`);
        assert.match(r.stderr, re, JSON.stringify(redis));
    }
    // a valid cluster store (host names resolved at startup)
    const valid = await check({ ...c({ nodes: ['127.0.0.1:7000', 'localhost:7001'] }), username: 'app', password: 'app-secret' }, 'ok.yaml');
    assert.equal(valid.code, 0, valid.stderr);
    const example = await runKvedge(['-t', '-c', path.join(SOURCE_DIR, 'examples/cluster.yaml')]);
    assert.equal(example.code, 0, `examples/cluster.yaml is valid: ${example.stderr}`);
    assert.doesNotMatch(valid.stdout + valid.stderr, /app-secret/, 'no password printed');
    const help = await runKvedge(['--help-config']);
    assert.match(help.stdout, /cluster/, '--help-config documents cluster');
    assert.match(help.stdout, /seed nodes of the cluster/, '--help-config documents cluster.nodes');
});

test('issue 12 scale-out: cluster: what the driver relies on during a slot migration (ASK, TRYAGAIN, ASKING before MULTI)', T, async () => {
    const c = await startCluster();
    try {
        const primaries = await c.primaries();
        const client = (n) => c.clients[c.nodes.indexOf(n)];
        const slot = Number(await c.clients[0].call('CLUSTER', 'KEYSLOT', '{m}a'));
        let src;
        for (const p of primaries) {
            try {
                await client(p).set('{m}a', '1');
                src = p;
                break;
            } catch { /* MOVED: not this one */ }
        }
        assert.ok(src, 'the slot has a primary');
        const dst = primaries.find((p) => p !== src);
        const S = client(src), D = client(dst);
        await D.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', await S.call('CLUSTER', 'MYID'));
        await S.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', await D.call('CLUSTER', 'MYID'));
        const answers = async (cl, cmds) => (await cmds.reduce((p, cmd) => p.call(...cmd), cl.pipeline()).exec())
            .map(([e, v]) => (e ? e.message : v));

        // a key not (or no longer) on the source: ASK to the target; the target answers MOVED without ASKING
        await assert.rejects(S.get('{m}b'), new RegExp(`^ReplyError: ASK ${slot} 127\\.0\\.0\\.1:${dst.port}$`));
        await assert.rejects(S.eval("return redis.call('GET', KEYS[1])", 1, '{m}z'), /^ReplyError: ASK /);
        await assert.rejects(D.get('{m}b'), new RegExp(`^ReplyError: MOVED ${slot} 127\\.0\\.0\\.1:${src.port}$`));
        // keys split between the two nodes: TRYAGAIN, on either side
        await assert.rejects(S.mget('{m}a', '{m}b'), /^ReplyError: TRYAGAIN /);
        assert.deepEqual(await answers(D, [['ASKING'], ['SET', '{m}b', 'x']]), ['OK', 'OK']);
        assert.match((await answers(D, [['ASKING'], ['MGET', '{m}a', '{m}b']]))[1], /^TRYAGAIN /);
        // a transaction on the target: ASKING before MULTI holds through EXEC; ASKING inside it is only queued
        assert.deepEqual(await answers(D, [['ASKING'], ['MULTI'], ['SET', '{m}c', 'x'], ['EXEC']]), ['OK', 'OK', 'QUEUED', ['OK']]);
        const inside = await answers(D, [['MULTI'], ['ASKING'], ['SET', '{m}d', 'x'], ['EXEC']]);
        assert.match(inside[2], /^MOVED /);
        assert.match(inside[3], /^EXECABORT /);
    } finally {
        await c.stop();
    }
});
