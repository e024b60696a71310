// Issue 12 scale-out, TLS to a Redis Cluster (`cluster: {nodes, tls: true}`): a 3x3 cluster whose nodes listen with
// TLS too (`--tls-port`, `--tls-cluster yes`, a CA and a certificate made here: topology.mjs startCluster({tls})).
// kvedge reaches every node over TLS at the TLS port the slot map names (CLUSTER SHARDS' tls-port, -MOVED's port to a
// TLS client), verifies each node's certificate against its address (or tls_server_name), and refuses a node whose
// certificate does not verify: 503, a log line naming the reason, nothing sent in the clear.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from '@upstash/redis';
import { assertCleanExit, http, makeTempDir, runKvedge, startKvedge, waitFor, writeConfig } from './harness.mjs';
import { kvConfig, RW_TOKEN } from './kv_helpers.mjs';
import { makeCerts } from './httpclient_helpers.mjs';
import { clusterKvConfig, clusterLogLines, keysOnEveryShard, kvPost, moveSlot, ownerIndex, shardMap, startClusterKv } from './cluster_helpers.mjs';
import { startCluster } from './topology.mjs';

const T = { timeout: 120_000 };
let certs, c;

before(async () => {
    certs = makeCerts();
    c = await startCluster({ tls: { certs }, args: ['--cluster-require-full-coverage', 'no'] });
});

after(async () => {
    await c?.stop();
});

/** kvedge's config for the TLS cluster: the seeds at their TLS ports, `tls` adds store keys */
const tlsConfig = (tls = {}) => clusterKvConfig(c, {
    redis: { cluster: { nodes: c.tlsAddresses, tls: true }, ca_file: certs.ca.cert, connect_timeout: '2s', ...tls },
});

/**
 * The calls of every command a client could send, as one node counts them (INFO commandstats), without what the test
 * and the cluster itself run meanwhile (INFO; replication's REPLCONF and PING).
 */
async function clientCommands(io) {
    const stats = await io.info('commandstats');
    return [...stats.matchAll(/^cmdstat_([a-z|_-]+):calls=(\d+)/gm)]
        .filter(([, name]) => !/^(info|replconf|ping)$/.test(name))
        .map(([, name, calls]) => `${name}=${calls}`).join(',');
}

/** the client connections a node has on its TLS port and on its plain port (CLIENT LIST laddr) */
async function connectionsByPort(i) {
    const list = await c.clients[i].call('CLIENT', 'LIST');
    const on = (port) => list.split('\n').filter((l) => new RegExp(` laddr=[^ ]+:${port} `).test(l)).length;
    return { tls: on(c.tlsPorts[i]), plain: on(c.nodes[i].port) };
}

test('issue 12 cluster over TLS: the SDK on every shard, each node reached at its TLS port and its address verified; a moved slot followed', T, async () => {
    const k = await startClusterKv(c, tlsConfig()); // the certificate's IP entry (127.0.0.1) is what is checked
    try {
        const map = await shardMap(c);
        const keys = await keysOnEveryShard(c, map, 'tls:', 2);
        const sdk = new Redis({ url: `${k.url}/kv`, token: RW_TOKEN, retry: false, enableAutoPipelining: false });
        for (const { key, node } of keys) {
            assert.equal(await sdk.set(key, `v-${key}`), 'OK');
            assert.equal(await sdk.get(key), `v-${key}`);
            assert.equal(await c.clients[node].get(key), `v-${key}`, `${key} on its slot's primary`);
        }
        // a pipeline over all three shards, split per node and merged in order
        const p = sdk.pipeline();
        for (const { key } of keys) p.get(key);
        assert.deepEqual(await p.exec(), keys.map(({ key }) => `v-${key}`));
        // kvedge's connections are on the TLS ports only (the test's own ioredis clients use the plain ones)
        for (const i of new Set(keys.map((x) => x.node))) {
            const conns = await connectionsByPort(i);
            assert.ok(conns.tls >= 1, `node ${i}: kvedge on its TLS port: ${JSON.stringify(conns)}`);
        }
        // a slot moved by hand: -MOVED names the new owner's TLS port to a TLS client, and kvedge follows it there
        const { key, slot, node: src } = keys[0];
        const dst = ownerIndex(c, map, keys.find((x) => x.node !== src).slot);
        await moveSlot(c, slot, src, dst);
        assert.equal(await c.clients[dst].get(key), `v-${key}`, 'the key moved');
        for (let i = 0; i < 10; i++) assert.equal(await sdk.get(key), `v-${key}`);
        assert.equal(await sdk.set(key, 'after'), 'OK');
        assert.equal(await c.clients[dst].get(key), 'after', 'written on the new owner');
        assert.ok((await connectionsByPort(dst)).tls >= 1);
        assert.match((await http('GET', `${k.url}/metrics`)).body, /^kvedge_kv_redirects_total\{store="default"\} [1-9]/m);
        assert.ok(k.running);
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 12 cluster over TLS: tls_server_name names the nodes\' certificate (localhost)', T, async () => {
    const k = await startClusterKv(c, tlsConfig({ tls_server_name: 'localhost' }));
    try {
        const [{ key }] = await keysOnEveryShard(c, await shardMap(c), 'tlsname:', 1);
        assert.equal((await kvPost(k, ['SET', key, 'x'])).status, 200);
        assert.deepEqual(JSON.parse((await kvPost(k, ['GET', key])).body), { result: 'x' });
    } finally {
        assertCleanExit(await k.stop());
    }
});

for (const [what, tls, reason] of [
    ['a certificate for another name', () => ({ tls_server_name: 'wrong.test' }), /hostname mismatch/],
    ['a CA that did not sign the nodes\' certificate', () => ({ ca_file: certs.otherCa.cert }),
        /unable to get local issuer certificate|self.signed|certificate verify failed/],
]) {
    test(`issue 12 cluster over TLS: ${what} is refused: 503 at once, a log line naming the reason, nothing sent`, T, async () => {
        const before = await Promise.all(c.clients.map(clientCommands));
        const k = await startKvedge(tlsConfig(tls()));
        try {
            await waitFor(() => /is down: TLS /.test(k.stderr()), { message: 'the log line' });
            const line = k.stderr().split('\n').find((l) => /is down: TLS /.test(l));
            assert.match(line, reason, line);
            const t0 = Date.now();
            const r = await kvPost(k, ['SET', 'tls:refused', 'x']);
            assert.equal(r.status, 503, r.body);
            assert.ok(Date.now() - t0 < 3000, 'answered without waiting for a node');
            assert.equal((await http('GET', `${k.adminUrl}readyz`)).status, 503);
            const after = await Promise.all(c.clients.map(clientCommands));
            assert.deepEqual(after, before, `no command of kvedge's reached a node\n${clusterLogLines(k)}`);
            assert.ok(k.running);
        } finally {
            assertCleanExit(await k.stop());
        }
    });
}

test('issue 12 cluster over TLS: nodes that demand a client certificate: refused without one; with tls_cert_file each node\'s own context presents it', T, async () => {
    const client = certs.leaf({ dns: ['kvedge-client'] });
    await Promise.all(c.clients.map((io) => io.config('SET', 'tls-auth-clients', 'yes')));
    try {
        const bare = await startKvedge(tlsConfig());
        try {
            await waitFor(() => /is down: TLS /.test(bare.stderr()), { message: 'the log line' });
            assert.match(bare.stderr().split('\n').find((l) => /is down: TLS /.test(l)),
                /alert certificate required|ended after the handshake \(a client certificate required\?\)/);
            assert.equal((await kvPost(bare, ['SET', 'tls:mtls', 'x'])).status, 503);
        } finally {
            assertCleanExit(await bare.stop());
        }
        // no tls_server_name: every node's context is derived from the store's (its address verified) and must carry the
        // client certificate too, on every shard
        const k = await startClusterKv(c, tlsConfig({ tls_cert_file: client.cert, tls_key_file: client.key }));
        try {
            for (const { key, node } of await keysOnEveryShard(c, await shardMap(c), 'mtls:', 1)) {
                assert.equal((await kvPost(k, ['SET', key, 'v'])).status, 200, key);
                assert.equal(await c.clients[node].get(key), 'v');
            }
        } finally {
            assertCleanExit(await k.stop());
        }
    } finally {
        await Promise.all(c.clients.map((io) => io.config('SET', 'tls-auth-clients', 'no')));
    }
});

test('issue 12 cluster over TLS: kvedge -t takes cluster.tls with its files and refuses what cannot be loaded', async () => {
    const dir = makeTempDir();
    let n = 0;
    const check = (redis) => runKvedge(['-t', '-c', writeConfig(kvConfig(redis, {}, { listen: [{ host: '127.0.0.1', port: 1 }] }), { dir, name: `c${n++}.yaml` })]);
    const ok = await check({ cluster: { nodes: ['127.0.0.1:7000'], tls: true }, ca_file: certs.ca.cert, tls_server_name: 'localhost' });
    assert.equal(ok.code, 0, ok.stderr);
    const missing = await check({ cluster: { nodes: ['127.0.0.1:7000'], tls: true }, ca_file: '/nonexistent/ca.pem' });
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /ca_file/);
    const plain = await check({ cluster: { nodes: ['127.0.0.1:7000'] }, ca_file: certs.ca.cert });
    assert.notEqual(plain.code, 0, 'TLS options on a cluster without tls: true');
    assert.match(plain.stderr, /ca_file: only a store reached over TLS/);
    const half = await check({ cluster: { nodes: ['127.0.0.1:7000'], tls: true }, tls_cert_file: certs.ca.cert });
    assert.notEqual(half.code, 0);
    assert.match(half.stderr, /tls_key_file|tls_cert_file/);
});
