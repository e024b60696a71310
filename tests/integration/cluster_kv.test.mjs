// Issue 12 (scale-out), the Redis Cluster topology through kvedge's KV REST API: a store `redis: {cluster: {nodes}}` on
// the startCluster() fixture (tests/integration/topology.mjs: 3 primaries, 3 replicas on loopback), driven by the SDKs
// (@upstash/redis, @vercel/kv, as kv_sdk.test.mjs uses them) and raw requests. Phase 1 of the driver: every command
// goes to its slot's primary, so every key is checked on that primary with a direct ioredis GET. One cluster and one
// kvedge for the file (the MOVED tests move slots of their own keys); every process is stopped by its PID.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Redis } from '@upstash/redis';
import { createClient } from '@vercel/kv';
import { assertCleanExit, runKvedge, sleep, startKvedge, waitFor, writeConfig } from './harness.mjs';
import { RO_TOKEN, RW_TOKEN } from './kv_helpers.mjs';
import { clusterKvConfig, clusterLogLines, keySlot, keysOnEveryShard, kvPost, moveSlot, ownerIndex, shardMap, startClusterKv, tagForSlot } from './cluster_helpers.mjs';
import { startCluster } from './topology.mjs';

const T = { timeout: 120_000 };
const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot";

let c; // the cluster
let k; // kvedge
let url; // the KV API base URL
let map; // the shard map at start

before(async () => {
    c = await startCluster();
    try {
        k = await startClusterKv(c);
    } catch (e) {
        await c.stop();
        c = null;
        throw e;
    }
    url = `${k.url}/kv`;
    map = await shardMap(c);
});

after(async () => {
    try {
        if (k) {
            const r = await k.stop();
            assertCleanExit(r);
        }
    } finally {
        if (c) await c.stop();
    }
});

const variants = [
    ['@upstash/redis defaults (auto-pipelining, base64)', () => new Redis({ url, token: RW_TOKEN, retry: false })],
    ['@upstash/redis enableAutoPipelining:false', () => new Redis({ url, token: RW_TOKEN, retry: false, enableAutoPipelining: false })],
    ['@upstash/redis responseEncoding:false', () => new Redis({ url, token: RW_TOKEN, retry: false, responseEncoding: false })],
    ['@vercel/kv createClient', () => createClient({ url, token: RW_TOKEN })],
];

/** The client of the primary that serves `key` now (by the cluster's current map). */
async function ownerClient(key) {
    const m = await shardMap(c);
    return c.clients[ownerIndex(c, m, keySlot(key))];
}

/** On every primary: whether `key` exists there (a primary that does not serve it says 0: EXISTS is not redirected). */
async function existsAnywhere(key) {
    const found = [];
    for (const p of await c.primaries()) {
        const cl = c.clients[c.nodes.indexOf(p)];
        // a primary that does not serve the key's slot answers MOVED (it holds nothing of the slot)
        try {
            if ((await cl.exists(key)) === 1) found.push(p.port);
        } catch (e) {
            assert.match(e.message, /^MOVED /, `${key} on ${p.port}`);
        }
    }
    return found;
}

const failure = (what) => `${what}\n--- kvedge log (cluster lines) ---\n${clusterLogLines(k)}`;

test('issue 12 cluster: the test keys cover the three primaries (CLUSTER KEYSLOT and the fixture\'s map), the local CRC16 agrees', T, async () => {
    assert.equal(map.length, 3, 'three shards');
    const keys = await keysOnEveryShard(c, map, 'cov:', 2);
    const nodes = new Set(keys.map((x) => x.node));
    assert.equal(nodes.size, 3, `keys on 3 primaries: ${JSON.stringify(keys)}`);
    const primaries = new Set((await c.primaries()).map((p) => c.nodes.indexOf(p)));
    for (const x of keys) {
        assert.ok(primaries.has(x.node), `${x.key}: node ${x.node} is a primary`);
        assert.equal(keySlot(x.key), x.slot, `${x.key}: CRC16 here = CLUSTER KEYSLOT`);
    }
    for (const key of ['{u1}a', '{u1}b', 'a{}b', '{}x', 'x{y', '{a}{b}', 'é😀']) {
        assert.equal(keySlot(key), Number(await c.clients[0].call('CLUSTER', 'KEYSLOT', key)), key);
    }
    for (const s of [0, 1, 5460, 5461, 16383]) assert.equal(Number(await c.clients[0].call('CLUSTER', 'KEYSLOT', `{${tagForSlot(s)}}z`)), s);
});

test('issue 12 cluster: SDKs get/set/incr/hset/pipeline on keys of every shard; each key is on its slot\'s primary', T, async () => {
    for (const [vi, [name, make]] of variants.entries()) {
        const cl = make();
        const keys = await keysOnEveryShard(c, map, `sdk${vi}:`, 2);
        assert.equal(new Set(keys.map((x) => x.node)).size, 3, `${name}: keys of all 3 primaries`);
        for (const { key, node } of keys) {
            const value = { v: key, variant: vi, s: 'é😀' };
            assert.equal(await cl.set(key, value), 'OK', failure(`${name}: set ${key}`));
            assert.deepEqual(await cl.get(key), value, `${name}: get ${key}`);
            // it is on its slot's primary, and only there
            assert.equal(await c.clients[node].get(key), JSON.stringify(value), `${name}: ${key} on node ${node}`);
            assert.deepEqual(await existsAnywhere(key), [c.nodes[node].port], `${name}: ${key} only on its primary`);
            // a counter and a hash in the same slot ({key} tag)
            assert.equal(await cl.incr(`{${key}}:n`), 1, `${name}: incr`);
            assert.equal(await cl.incrby(`{${key}}:n`, 4), 5, `${name}: incrby`);
            assert.equal(await c.clients[node].get(`{${key}}:n`), '5');
            assert.equal(await cl.hset(`{${key}}:h`, { f: 1, g: 'x' }), 2, `${name}: hset`);
            assert.deepEqual(await cl.hgetall(`{${key}}:h`), { f: 1, g: 'x' });
            assert.deepEqual(await c.clients[node].hgetall(`{${key}}:h`), { f: '1', g: 'x' });
        }
        // concurrent commands on every shard (one auto-pipeline batch for the default client): answers in order
        const got = await Promise.all(keys.flatMap(({ key }) => [cl.get(key), cl.incr(`{${key}}:n`), cl.hget(`{${key}}:h`, 'g')]));
        assert.deepEqual(got, keys.flatMap(({ key }) => [{ v: key, variant: vi, s: 'é😀' }, 6, 'x']), `${name}: concurrent`);
        // an explicit pipeline across the three shards, merged back in order
        const p = cl.pipeline();
        for (const { key } of keys) p.set(`{${key}}:p`, `pv-${key}`).incr(`{${key}}:n`).get(key).hget(`{${key}}:h`, 'f');
        const res = await p.exec();
        assert.deepEqual(res, keys.flatMap(({ key }) => ['OK', 7, { v: key, variant: vi, s: 'é😀' }, 1]), failure(`${name}: pipeline`));
        for (const { key, node } of keys) assert.equal(await c.clients[node].get(`{${key}}:p`), `pv-${key}`);
    }
});

test('issue 12 cluster: a raw /pipeline of 300 commands over every shard answers in order, with per-entry errors', T, async () => {
    const keys = await keysOnEveryShard(c, map, 'rawp:', 3);
    const cmds = [], want = [];
    for (let i = 0; i < 300; i++) {
        const { key } = keys[i % keys.length];
        if (i % 3 === 0) {
            cmds.push(['INCR', `{${key}}:c`]);
            want.push(null); // the count of that key so far: below
        } else if (i % 3 === 1) {
            cmds.push(['SET', `{${key}}:s${i}`, String(i)]);
            want.push({ result: 'OK' });
        } else {
            cmds.push(['HGET', `{${keys[(i - 1) % keys.length].key}}:s${i - 1}`, 'f']); // the SET before: WRONGTYPE, an entry error
            want.push({ error: 'WRONGTYPE Operation against a key holding the wrong kind of value' });
        }
    }
    // INCR of each key: count per key in order
    const seen = new Map();
    for (let i = 0; i < cmds.length; i++) {
        if (cmds[i][0] !== 'INCR') continue;
        const n = (seen.get(cmds[i][1]) ?? 0) + 1;
        seen.set(cmds[i][1], n);
        want[i] = { result: n };
    }
    const r = await kvPost(k, cmds, { path: '/pipeline' });
    assert.equal(r.status, 200, failure(r.body));
    assert.deepEqual(JSON.parse(r.body), want);
    for (const [key, n] of seen) assert.equal(await (await ownerClient(key)).get(key), String(n), key);
});

test('issue 12 cluster: MGET and other multi-key commands across slots answer 400 CROSSSLOT, nothing written; with a {hash tag} they work', T, async () => {
    const [a, b] = ['xa', 'xb'];
    assert.notEqual(keySlot(a), keySlot(b), 'two slots');
    await (await ownerClient(a)).set(a, '1');
    await (await ownerClient(b)).set(b, '2');
    const refused = [
        ['MGET', a, b],
        ['MSET', 'xm1', '1', 'xm2', '2'],
        ['DEL', a, b],
        ['EXISTS', a, b],
        ['RENAME', a, b],
        ['SUNIONSTORE', 'xd', a, b],
        ['EVAL', "return redis.call('GET', KEYS[1])", '2', a, b],
    ];
    assert.notEqual(keySlot('xm1'), keySlot('xm2'));
    const got = {}, want = {};
    for (const cmd of refused) {
        const r = await kvPost(k, cmd);
        got[cmd.join(' ')] = { status: r.status, body: JSON.parse(r.body) };
        want[cmd.join(' ')] = { status: 400, body: { error: CROSSSLOT } };
    }
    // in a pipeline: only that entry
    const p = await kvPost(k, [['GET', a], ['MGET', a, b], ['GET', b]], { path: '/pipeline' });
    got.pipeline = { status: p.status, body: JSON.parse(p.body) };
    want.pipeline = { status: 200, body: [{ result: '1' }, { error: CROSSSLOT }, { result: '2' }] };
    assert.deepEqual(got, want, failure('CROSSSLOT answers'));
    // nothing was written or deleted
    assert.equal(await (await ownerClient(a)).get(a), '1');
    assert.equal(await (await ownerClient(b)).get(b), '2');
    for (const key of ['xm1', 'xm2', 'xd']) assert.deepEqual(await existsAnywhere(key), [], `${key} not written`);
    // the SDK sees Redis' own text
    const cl = variants[0][1]();
    await assert.rejects(cl.mget(a, b), (e) => e.message.includes(CROSSSLOT));
    // with a hash tag: one slot, every multi-key command works, on the tag's primary
    const ta = '{u1}a', tb = '{u1}b';
    assert.equal(keySlot(ta), keySlot(tb));
    for (const [name, make] of variants) {
        const s = make();
        assert.equal(await s.mset({ [ta]: 'A', [tb]: { b: 1 } }), 'OK', name);
        assert.deepEqual(await s.mget(ta, tb, '{u1}none'), ['A', { b: 1 }, null], failure(name));
        assert.equal(await s.exists(ta, tb), 2, name);
    }
    const r = await kvPost(k, ['MGET', ta, tb]);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { result: ['A', '{"b":1}'] });
    assert.equal(await (await ownerClient(ta)).get(tb), '{"b":1}');
    const ev = await kvPost(k, ['EVAL', "return redis.call('GET', KEYS[1]) .. redis.call('GET', KEYS[2])", '2', ta, tb]);
    assert.deepEqual(JSON.parse(ev.body), { result: 'A{"b":1}' }, failure(ev.body));
});

test('issue 12 cluster: a /multi-exec across slots is refused whole with nothing written; in one slot it works', T, async () => {
    const keys = await keysOnEveryShard(c, map, 'tx:', 1);
    // across shards: refused, nothing written on any node
    const cross = [['SET', keys[0].key, '1'], ['INCR', `{${keys[0].key}}:n`], ['SET', keys[1].key, '2']];
    const r = await kvPost(k, cross, { path: '/multi-exec' });
    assert.equal(r.status, 400, failure(r.body));
    assert.deepEqual(JSON.parse(r.body), { error: CROSSSLOT });
    // two keys of one shard but different slots: still refused (Redis' rule is one slot)
    const sameShard = await keysOnEveryShard(c, map, 'tx2:', 2);
    const [s1, s2] = sameShard.filter((x) => x.shard === 0);
    assert.notEqual(s1.slot, s2.slot);
    const r2 = await kvPost(k, [['SET', s1.key, '1'], ['SET', s2.key, '2']], { path: '/multi-exec' });
    assert.equal(r2.status, 400);
    assert.deepEqual(JSON.parse(r2.body), { error: CROSSSLOT });
    for (const key of [keys[0].key, `{${keys[0].key}}:n`, keys[1].key, s1.key, s2.key]) assert.deepEqual(await existsAnywhere(key), [], `${key} not written`);
    // the SDK's multi(): refused as a whole
    const cl = variants[1][1]();
    await assert.rejects(cl.multi().set(keys[0].key, 'x').set(keys[2].key, 'y').exec(), (e) => e.message.includes(CROSSSLOT));
    assert.deepEqual(await existsAnywhere(keys[2].key), []);

    // one slot (a hash tag), on every shard: atomic, on the tag's primary; keyless commands may join
    for (const { key, node } of keys) {
        const t = `{${key}}`;
        const ok = await kvPost(k, [['SET', `${t}a`, '1'], ['INCR', `${t}n`], ['PING'], ['INCR', `${t}n`], ['GET', `${t}a`]], { path: '/multi-exec' });
        assert.equal(ok.status, 200, failure(ok.body));
        assert.deepEqual(JSON.parse(ok.body), [{ result: 'OK' }, { result: 1 }, { result: 'PONG' }, { result: 2 }, { result: '1' }]);
        assert.equal(await c.clients[node].get(`${t}n`), '2');
        for (const [name, make] of variants) {
            const tx = await make().multi().incr(`${t}m`).get(`${t}m`).exec();
            assert.equal(tx.length, 2, name);
            assert.equal(tx[1], tx[0], name);
        }
        assert.equal(await c.clients[node].get(`${t}m`), String(variants.length));
    }
});

test('issue 12 cluster: a read-only token still cannot write on a cluster store (any shard, pipeline, transaction, script)', T, async () => {
    const keys = await keysOnEveryShard(c, map, 'ro:', 1);
    for (const { key, node } of keys) await c.clients[node].set(key, 'orig');
    const ro = new Redis({ url, token: RO_TOKEN, retry: false, enableAutoPipelining: false });
    const rok = createClient({ url, token: RO_TOKEN });
    const got = {}, want = {};
    for (const { key } of keys) {
        got[`get ${key}`] = await ro.get(key);
        want[`get ${key}`] = 'orig';
        got[`kv get ${key}`] = await rok.get(key);
        want[`kv get ${key}`] = 'orig';
        for (const [cmd, body] of [
            ['set', ['SET', key, 'x']],
            ['incr', ['INCR', `{${key}}:n`]],
            ['hset', ['HSET', `{${key}}:h`, 'f', 'v']],
            ['del', ['DEL', key]],
            ['eval', ['EVAL', "return redis.call('SET', KEYS[1], 'x')", '1', key]],
        ]) {
            const r = await kvPost(k, body, { token: RO_TOKEN });
            got[`${cmd} ${key}`] = { status: r.status, noperm: /NOPERM/.test(r.body) };
            want[`${cmd} ${key}`] = { status: 400, noperm: true }; // as on standalone (kv_http.test.mjs)
        }
        const p = await kvPost(k, [['GET', key], ['SET', key, 'x']], { path: '/pipeline', token: RO_TOKEN });
        const pj = JSON.parse(p.body);
        got[`pipeline ${key}`] = [pj[0], /NOPERM/.test(pj[1]?.error ?? '')];
        want[`pipeline ${key}`] = [{ result: 'orig' }, true];
        const tx = await kvPost(k, [['GET', key], ['SET', key, 'x']], { path: '/multi-exec', token: RO_TOKEN });
        got[`multi ${key}`] = tx.status !== 200 && /NOPERM/.test(tx.body);
        want[`multi ${key}`] = true;
    }
    // a keyless script (numkeys 0) cannot write either
    const ev0 = await kvPost(k, ['EVAL', "return redis.call('SET', 'ro:keyless', 'x')", '0'], { token: RO_TOKEN });
    got['eval 0 keys'] = ev0.status !== 200 && /NOPERM/.test(ev0.body);
    want['eval 0 keys'] = true;
    await assert.rejects(ro.set(keys[0].key, 'x'), /NOPERM/);
    await assert.rejects(rok.set(keys[0].key, 'x'), /NOPERM/);
    assert.deepEqual(got, want, failure('read-only answers'));
    for (const { key, node } of keys) {
        assert.equal(await c.clients[node].get(key), 'orig', `${key} unchanged`);
        assert.deepEqual(await existsAnywhere(`{${key}}:n`), []);
        assert.deepEqual(await existsAnywhere(`{${key}}:h`), []);
    }
    assert.deepEqual(await existsAnywhere('ro:keyless'), []);
});

test('issue 12 cluster: a read-write token cannot reconfigure the cluster (CLUSTER, ASKING, READONLY, SELECT refused)', T, async () => {
    const nodesBefore = (await c.clients[0].call('CLUSTER', 'NODES')).split('\n').map((l) => l.split(' ').slice(0, 3).join(' ')).sort();
    const myid = await c.clients[1].call('CLUSTER', 'MYID');
    const got = {};
    for (const cmd of [
        ['CLUSTER', 'RESET', 'HARD'],
        ['CLUSTER', 'SETSLOT', '0', 'NODE', myid],
        ['CLUSTER', 'FAILOVER', 'TAKEOVER'],
        ['CLUSTER', 'FORGET', myid],
        ['CLUSTER', 'MEET', '127.0.0.1', '1'],
        ['CLUSTER', 'FLUSHSLOTS'],
        ['ASKING'],
        ['READONLY'],
        ['READWRITE'],
        ['SELECT', '1'],
    ]) {
        const r = await kvPost(k, cmd);
        got[cmd.join(' ')] = r.status;
        const p = await kvPost(k, [cmd], { path: '/pipeline' });
        got[`pipeline ${cmd.join(' ')}`] = p.status === 200 && 'error' in JSON.parse(p.body)[0] ? 'entry error' : p.status;
    }
    for (const [cmd, status] of Object.entries(got)) {
        if (cmd.startsWith('pipeline ')) assert.ok(status === 'entry error' || (status >= 400 && status < 500), `${cmd}: ${status}`);
        else assert.ok(status >= 400 && status < 500, `${cmd}: refused, got ${status}`);
    }
    const info = await c.clients[0].call('CLUSTER', 'INFO');
    assert.match(info, /cluster_state:ok/);
    assert.match(info, /cluster_slots_assigned:16384/);
    const nodesAfter = (await c.clients[0].call('CLUSTER', 'NODES')).split('\n').map((l) => l.split(' ').slice(0, 3).join(' ')).sort();
    assert.deepEqual(nodesAfter, nodesBefore, 'the cluster is as it was');
    // and the store still works
    assert.equal((await kvPost(k, ['SET', 'after-admin', '1'])).status, 200);
    // scripts run what the store's Redis user may run: as `default` (this kvedge), kvedge warns that it could run the
    // CLUSTER subcommands (the test with `kvedge acl`'s users is below)
    assert.match(k.stderr(), /\[warn\] redis: redis user default \(read-write tokens\) can run \d+ commands the KV policy refuses \([^)]*cluster\|/);
});

/** Scripts that would reconfigure the cluster (the KV policy sees only EVAL). */
const clusterScripts = (myid) => [
    ['EVAL', "return redis.call('CLUSTER', 'SETSLOT', '0', 'NODE', ARGV[1])", '0', myid],
    ['EVAL', "return redis.call('CLUSTER', 'FORGET', ARGV[1])", '0', myid],
    ['EVAL', "return redis.call('CLUSTER', 'FLUSHSLOTS')", '0'],
    ['EVAL', "return redis.call('CLUSTER', 'RESET', 'HARD')", '0'],
    ['EVAL', "return redis.call('CLUSTER', 'FAILOVER', 'TAKEOVER')", '0'],
];

test('issue 12 cluster: with the users `kvedge acl` prints (on every node), the store works and no script of a token holder can run CLUSTER commands', T, async () => {
    const cl = await startCluster();
    let kk;
    try {
        const cfg = clusterKvConfig(cl, { redis: { username: 'app-rw', password: 'rw-password-123', read_only_username: 'app-ro', read_only_password: 'ro-password-456' } });
        const printed = await runKvedge(['acl', '-c', writeConfig({ ...cfg, listen: [{ host: '127.0.0.1', port: 8080 }] })]);
        assert.equal(printed.code, 0, printed.stderr);
        const lines = printed.stdout.split('\n').filter((l) => l.startsWith('ACL SETUSER'));
        assert.equal(lines.length, 2, printed.stdout);
        // the operator runs them on every node (Redis does not replicate ACL rules)
        for (const io of cl.clients)
            for (const [line, pw] of [[lines[0], 'rw-password-123'], [lines[1], 'ro-password-456']])
                assert.equal(await io.call('ACL', ...line.replace('><password>', `>${pw}`).split(' ').slice(1)), 'OK');
        kk = await startKvedge(cfg);
        // the driver reads the slot map and runs commands on every shard as app-rw
        const m = await shardMap(cl);
        const keys = await keysOnEveryShard(cl, m, 'acl:', 1);
        for (const { key, node } of keys) {
            const r = await waitFor(async () => {
                const x = await kvPost(kk, ['SET', key, 'v']);
                return x.status === 200 && x;
            }, { timeoutMs: 10_000, message: `SET ${key} through kvedge as app-rw\n${kk.stderr()}` });
            assert.equal(r.status, 200);
            assert.equal(await cl.clients[node].get(key), 'v');
        }
        const clients = await cl.clients[keys[0].node].call('CLIENT', 'LIST');
        assert.match(clients, /user=app-rw/);
        assert.doesNotMatch(kk.stderr(), /can run \d+ commands the KV policy refuses/, 'no warning with the printed users');
        // a MOVED through kvedge with these users (the driver may need ASKING / CLUSTER SHARDS: they must be granted)
        const mk = keys[0].key, slot = keySlot(mk), src = keys[0].node, dst = keys[1].node;
        await moveSlot(cl, slot, src, dst);
        const g = await kvPost(kk, ['GET', mk]);
        assert.deepEqual({ status: g.status, body: g.body }, { status: 200, body: JSON.stringify({ result: 'v' }) }, `GET after MOVED as app-rw\n${clusterLogLines(kk)}`);
        // token holders' scripts: refused by Redis (NOPERM), the cluster unchanged
        const before = (await cl.clients[0].call('CLUSTER', 'NODES')).split('\n').map((l) => l.split(' ').slice(0, 3).join(' ')).sort();
        const myid = await cl.clients[1].call('CLUSTER', 'MYID');
        const got = {};
        for (const cmd of clusterScripts(myid)) {
            const r = await kvPost(kk, cmd);
            got[cmd[1]] = r.status === 200 ? `200 ${r.body}` : 'refused';
        }
        assert.deepEqual(got, Object.fromEntries(clusterScripts(myid).map((x) => [x[1], 'refused'])));
        const after = (await cl.clients[0].call('CLUSTER', 'NODES')).split('\n').map((l) => l.split(' ').slice(0, 3).join(' ')).sort();
        assert.deepEqual(after, before);
        assert.match(await cl.clients[0].call('CLUSTER', 'INFO'), /cluster_state:ok/);
    } finally {
        try {
            if (kk) assertCleanExit(await kk.stop());
        } finally {
            await cl.stop();
        }
    }
});

test('issue 12 cluster: DBSIZE is the sum over the primaries; PING/TIME answer', T, async () => {
    let sum = 0;
    for (const p of await c.primaries()) sum += await c.clients[c.nodes.indexOf(p)].dbsize();
    const r = await kvPost(k, ['DBSIZE']);
    assert.equal(r.status, 200, failure(r.body));
    assert.deepEqual(JSON.parse(r.body), { result: sum });
    assert.deepEqual(JSON.parse((await kvPost(k, ['PING'])).body), { result: 'PONG' });
    const t = JSON.parse((await kvPost(k, ['TIME'])).body).result;
    assert.ok(Math.abs(Number(t[0]) - Date.now() / 1000) < 60);
});

test('issue 12 cluster: SCAN (also WITHTYPE) covers every shard or is refused: never a partial answer that ends with cursor 0', T, async () => {
    const keys = await keysOnEveryShard(c, map, 'scan:', 4);
    for (const { key, node } of keys) await c.clients[node].set(key, 'v');
    const want = keys.map((x) => x.key).sort();
    const got = {};
    for (const withType of [false, true]) {
        const seen = new Set();
        let cursor = '0', rounds = 0, refused = null;
        do {
            const r = await kvPost(k, ['SCAN', cursor, 'MATCH', 'scan:*', 'COUNT', '5', ...(withType ? ['WITHTYPE'] : [])]);
            if (r.status !== 200) {
                refused = `${r.status} ${r.body}`;
                break;
            }
            const [next, items] = JSON.parse(r.body).result;
            for (let i = 0; i < items.length; i += withType ? 2 : 1) seen.add(items[i]);
            cursor = String(next);
        } while (cursor !== '0' && ++rounds < 1000);
        got[withType ? 'WITHTYPE' : 'plain'] = refused ?? [...seen].sort();
    }
    // the design (docs/scale-out.md, "Keyless commands"): node by node with a cursor that names the shard. WITHTYPE
    // (Upstash's extension, which kvedge answers with a script) may instead be refused with a clear error
    if (typeof got.WITHTYPE === 'string' && /^(4\d\d|501) \{"error":/.test(got.WITHTYPE)) got.WITHTYPE = want;
    assert.deepEqual(got, { plain: want, WITHTYPE: want }, failure('SCAN over the cluster'));
});

test('issue 12 cluster: MOVED: a slot moved by hand to another primary; the next GET/SET/pipeline/transaction through kvedge answer right', T, async () => {
    // one key per kind of first request after a move (each its own slot, moved on its own), on the same source shard
    const firstReq = ['get', 'set', 'pipeline', 'multi', 'sdk'];
    const src = (await c.primaries())[0];
    const si = c.nodes.indexOf(src);
    const srcShard = map.find((s) => s.primary.port === src.port);
    const dst = (await c.primaries())[1];
    const di = c.nodes.indexOf(dst);
    const keys = [];
    for (let n = 0; keys.length < firstReq.length; n++) {
        const key = `mv:${n}`;
        if (srcShard.ranges.some(([lo, hi]) => keySlot(key) >= lo && keySlot(key) <= hi) && !keys.some((x) => keySlot(x) === keySlot(key)))
            keys.push(key);
    }
    // written and read through kvedge first: every thread's map (and connection) knows the slot on the source
    for (const key of keys) {
        for (let i = 0; i < 4; i++) assert.equal((await kvPost(k, ['SET', key, `v-${key}`])).status, 200);
        assert.equal(await c.clients[si].get(key), `v-${key}`);
    }
    const got = {}, want = {};
    for (const [i, kind] of firstReq.entries()) {
        const key = keys[i], slot = keySlot(key);
        const moved = await moveSlot(c, slot, si, di);
        assert.equal(moved, 1, `${key}: its slot held it`);
        assert.equal(await c.clients[di].get(key), `v-${key}`, `${key} on the new primary`);
        await assert.rejects(c.clients[si].get(key), new RegExp(`^ReplyError: MOVED ${slot} 127\\.0\\.0\\.1:${dst.port}$`));
        // the first request after the move (kvedge's map still says the source) and a few more (other threads)
        for (let j = 0; j < 4; j++) {
            let r;
            if (kind === 'get') r = await kvPost(k, ['GET', key]);
            else if (kind === 'set') r = await kvPost(k, ['SET', key, `w-${key}-${j}`]);
            else if (kind === 'pipeline') r = await kvPost(k, [['GET', key], ['SET', key, `w-${key}-${j}`], ['INCR', `{${key}}:n`]], { path: '/pipeline' });
            else if (kind === 'multi') r = await kvPost(k, [['GET', key], ['SET', key, `w-${key}-${j}`], ['INCR', `{${key}}:n`]], { path: '/multi-exec' });
            else r = { status: 200, body: JSON.stringify({ result: await new Redis({ url, token: RW_TOKEN, retry: false }).get(key).catch((e) => e.message) }) };
            got[`${kind} #${j}`] = { status: r.status, body: r.body };
            const prev = j === 0 ? `v-${key}` : `w-${key}-${j - 1}`;
            if (kind === 'get' || kind === 'sdk') want[`${kind} #${j}`] = { status: 200, body: JSON.stringify({ result: `v-${key}` }) };
            else if (kind === 'set') want[`${kind} #${j}`] = { status: 200, body: JSON.stringify({ result: 'OK' }) };
            else want[`${kind} #${j}`] = { status: 200, body: JSON.stringify([{ result: prev }, { result: 'OK' }, { result: j + 1 }]) };
        }
        got[`${kind}: on the new primary`] = await c.clients[di].get(key);
        want[`${kind}: on the new primary`] = kind === 'get' || kind === 'sdk' ? `v-${key}` : `w-${key}-3`;
    }
    assert.deepEqual(got, want, failure('answers after MOVED'));
});

test('issue 12 cluster: the slot map is refreshed after a MOVED (another moved slot needs no MOVED) and every 10 s', T, async () => {
    // one worker thread: one map, so what one request teaches kvedge the next one uses
    const k1 = await startClusterKv(c, { extra: { threads: 1 } });
    try {
        const m = await shardMap(c);
        const si = ownerIndex(c, m, keySlot('rf:0'));
        const di = (await c.primaries()).map((p) => c.nodes.indexOf(p)).find((i) => i !== si);
        const keys = [];
        for (let n = 0; keys.length < 3; n++) {
            const key = `rf:${n}`;
            if (ownerIndex(c, m, keySlot(key)) === si && !keys.some((x) => keySlot(x) === keySlot(key))) keys.push(key);
        }
        for (const key of keys) assert.equal((await kvPost(k1, ['SET', key, `v-${key}`])).status, 200);
        // a MOVED is a rejected call of the old owner (INFO commandstats, Redis 7)
        const rejected = async () => Number(/^cmdstat_get:.*rejected_calls=(\d+)/m.exec(await c.clients[si].info('commandstats'))?.[1] ?? 0);
        const get = async (key) => {
            const r = await kvPost(k1, ['GET', key]);
            return `${r.status} ${r.body}`;
        };
        const ok = (key) => `200 ${JSON.stringify({ result: `v-${key}` })}`;
        const [a, b, d] = keys;
        await moveSlot(c, keySlot(a), si, di);
        await moveSlot(c, keySlot(b), si, di);
        const r0 = await rejected();
        assert.equal(await get(a), ok(a), failure('GET a after its slot moved'));
        const r1 = await rejected();
        assert.equal(r1, r0 + 1, 'the first GET met one MOVED');
        await sleep(500); // the refresh the MOVED asked for (at most one per 100 ms)
        assert.equal(await get(b), ok(b));
        const r2 = await rejected();
        // the periodic refresh: d moves now, and kvedge has no request for 11 s
        await moveSlot(c, keySlot(d), si, di);
        await sleep(11_000);
        assert.equal(await get(d), ok(d));
        const r3 = await rejected();
        assert.deepEqual({ afterMovedRefresh: r2 - r1, afterPeriodicRefresh: r3 - r2 }, { afterMovedRefresh: 0, afterPeriodicRefresh: 0 },
            failure('GETs that met a MOVED on the old owner after the map should have been refreshed'));
    } finally {
        assertCleanExit(await k1.stop());
    }
});

test('issue 12 cluster: a script\'s error reply that looks like MOVED/ASK is not followed: kvedge never connects (nor sends the store\'s password) to an address a token holder names', T, async () => {
    // a listener on loopback that records every byte sent to it (a token holder's "Redis node")
    const received = [];
    let connections = 0;
    const trap = net.createServer((s) => {
        connections++;
        s.on('data', (d) => {
            received.push(d.toString('latin1'));
            s.write('+OK\r\n');
        });
        s.on('error', () => {});
    });
    await new Promise((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const trapAt = `127.0.0.1:${trap.address().port}`;
    const cl = await startCluster();
    let kk;
    try {
        // the store's users have passwords (as an operator sets them up): what must never leave for another address
        for (const io of cl.clients) {
            await io.call('ACL', 'SETUSER', 'app-rw', 'on', '>rw-password-123', '~*', '&*', '+@all');
            await io.call('ACL', 'SETUSER', 'app-ro', 'on', '>ro-password-456', '~*', '&*', '+@read', '+eval_ro', '+evalsha_ro', '+ping');
        }
        kk = await startClusterKv(cl, { redis: { username: 'app-rw', password: 'rw-password-123', read_only_username: 'app-ro', read_only_password: 'ro-password-456' } });
        const m = await shardMap(cl);
        const [victim] = await keysOnEveryShard(cl, m, 'trap:', 1);
        const slot = victim.slot;
        assert.equal((await kvPost(kk, ['SET', victim.key, 'real'])).status, 200);
        const answers = {};
        for (const [name, token, cmd] of [
            ['EVAL MOVED, no key', RW_TOKEN, ['EVAL', `return redis.error_reply('MOVED ${slot} ${trapAt}')`, '0']],
            ['EVAL MOVED, the victim\'s slot', RW_TOKEN, ['EVAL', `return redis.error_reply('MOVED ${slot} ${trapAt}')`, '1', `{${victim.key}}x`]],
            ['EVAL ASK', RW_TOKEN, ['EVAL', `return redis.error_reply('ASK ${slot} ${trapAt}')`, '1', `{${victim.key}}x`]],
            ['EVAL_RO MOVED (read-only token)', RO_TOKEN, ['EVAL_RO', `return redis.error_reply('MOVED ${slot} ${trapAt}')`, '1', `{${victim.key}}x`]],
            ['EVAL MOVED in a pipeline', RW_TOKEN, null],
            ['EVAL MOVED in a transaction', RW_TOKEN, null],
        ]) {
            let r;
            const script = ['EVAL', `return redis.error_reply('MOVED ${slot} ${trapAt}')`, '1', `{${victim.key}}x`];
            if (name.endsWith('pipeline')) r = await kvPost(kk, [['GET', victim.key], script], { path: '/pipeline' });
            else if (name.endsWith('transaction')) r = await kvPost(kk, [['GET', victim.key], script], { path: '/multi-exec' });
            else r = await kvPost(kk, cmd, { token });
            answers[name] = `${r.status} ${r.body.slice(0, 120)}`;
            // right after: another client's GET of the victim's slot is answered by the real primary
            const g = await kvPost(kk, ['GET', victim.key]);
            answers[`${name}: GET after`] = `${g.status} ${g.body}`;
        }
        await sleep(300);
        const leaked = received.join('');
        console.log(`# script redirections to ${trapAt}: ${connections} connections, ${leaked.length} bytes received; answers ${JSON.stringify(answers)}`);
        assert.deepEqual({ connections, passwordSent: /password-\d+/.test(leaked), bytes: leaked.slice(0, 200) }, { connections: 0, passwordSent: false, bytes: '' },
            `kvedge followed a redirection a script made up${failure('')}`);
        for (const [name, a] of Object.entries(answers))
            if (name.endsWith('GET after')) assert.equal(a, `200 ${JSON.stringify({ result: 'real' })}`, name);
    } finally {
        try {
            if (kk) assertCleanExit(await kk.stop());
        } finally {
            await cl.stop();
            await new Promise((resolve) => trap.close(resolve));
        }
    }
});
