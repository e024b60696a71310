// Issue 12 (scale-out), the Redis Cluster topology: helpers shared by the cluster_*.test.mjs suites (kvedge's KV REST
// API on the startCluster() fixture of topology.mjs).
//
//   keySlot(key)                 CRC16 (XMODEM) of the key or of its {hash tag}, mod 16384 (checked against CLUSTER
//                                KEYSLOT by the suites)
//   shardMap(cluster)            the shards as a node sees them (CLUSTER SHARDS): slot ranges, primary, replicas
//   ownerIndex(cluster, map, s)  the index in cluster.nodes of the primary serving slot s
//   keysOnEveryShard(...)        one or more keys per shard (by CLUSTER KEYSLOT), for the suites' "every shard" checks
//   tagForSlot(slot)             a short hash tag whose slot is `slot`
//   moveSlot(cluster, ...)       a slot moved by hand: SETSLOT IMPORTING / MIGRATING, MIGRATE its keys, SETSLOT NODE on
//                                every primary (what `redis-cli --cluster reshard` does per slot)
//   clusterKvConfig(cluster)     a kvedge config whose store is the cluster (cluster.nodes = the fixture's addresses)
//   startClusterKv(cluster)      kvedge on it, waited for until a write through the KV API answers 200
//   kvClient(k)                  a KV REST client on one keep-alive connection: send(cmd) / pipeline(cmds) /
//                                multi(cmds), every call answered (an HTTP timeout is a result, not a throw)
//   redisCli(args)               redis-cli run to completion (stopped by its PID after a timeout)
//   clusterIo(cluster)           an ioredis Cluster client whose keyless commands cover the cluster (kv_helpers' `io`
//                                with KVEDGE_TEST_TOPOLOGY=cluster)
import { spawn } from 'node:child_process';
import httpMod from 'node:http';
import { http, startKvedge, waitFor } from './harness.mjs';
import { kvConfig, RW_TOKEN } from './kv_helpers.mjs';

// CRC16-CCITT (XMODEM), the Redis Cluster key hash
const CRC_TABLE = (() => {
    const t = new Uint16Array(256);
    for (let i = 0; i < 256; i++) {
        let c = i << 8;
        for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
        t[i] = c;
    }
    return t;
})();

function crc16(buf) {
    let crc = 0;
    for (const b of buf) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ b) & 0xff];
    return crc;
}

/** The slot of `key` (a string or Buffer): its {hash tag} if it has a non-empty one, as Redis computes it. */
export function keySlot(key) {
    const b = Buffer.isBuffer(key) ? key : Buffer.from(key);
    const open = b.indexOf(0x7b); // '{'
    if (open >= 0) {
        const close = b.indexOf(0x7d, open + 1); // '}'
        if (close > open + 1) return crc16(b.subarray(open + 1, close)) & 16383;
    }
    return crc16(b) & 16383;
}

let tagTable = null;
/** A short tag (e.g. "t123") whose slot is `slot`: `{<tag>}anything` hashes to that slot. */
export function tagForSlot(slot) {
    if (!tagTable) {
        tagTable = new Array(16384);
        let left = 16384;
        for (let n = 0; left > 0; n++) {
            const tag = `t${n}`;
            const s = crc16(Buffer.from(tag)) & 16383;
            if (tagTable[s] === undefined) {
                tagTable[s] = tag;
                left--;
            }
        }
    }
    return tagTable[slot];
}

/** Pairs of a flat RESP map array ([k1, v1, k2, v2, ...]) as an object. */
const pairs = (a) => {
    const o = {};
    for (let i = 0; i < a.length; i += 2) o[a[i]] = a[i + 1];
    return o;
};

/**
 * The shards as node `from` (an index into cluster.clients, default 0) sees them: [{ranges: [[lo, hi], ...], primary:
 * {id, port}, replicas: [{id, port}]}], only shards serving slots, in order of their first slot.
 */
export async function shardMap(cluster, from = 0) {
    const shards = [];
    for (const raw of await cluster.clients[from].call('CLUSTER', 'SHARDS')) {
        const s = pairs(raw);
        const ranges = [];
        for (let i = 0; i < s.slots.length; i += 2) ranges.push([Number(s.slots[i]), Number(s.slots[i + 1])]);
        if (ranges.length === 0) continue;
        const nodes = s.nodes.map(pairs);
        const primary = nodes.find((n) => n.role === 'master' && n.health !== 'fail');
        shards.push({
            ranges,
            primary: primary && { id: primary.id, port: Number(primary.port) },
            replicas: nodes.filter((n) => n.role === 'replica').map((n) => ({ id: n.id, port: Number(n.port) })),
        });
    }
    return shards.sort((a, b) => a.ranges[0][0] - b.ranges[0][0]);
}

/** The shard of `map` that serves `slot`. */
export function shardOf(map, slot) {
    return map.find((s) => s.ranges.some(([lo, hi]) => slot >= lo && slot <= hi));
}

/** The index in cluster.nodes of the primary serving `slot` in `map`. */
export function ownerIndex(cluster, map, slot) {
    const port = shardOf(map, slot)?.primary?.port;
    return cluster.nodes.findIndex((n) => n.port === port);
}

/**
 * `perShard` keys named `<prefix><n>` for every shard of `map` (slots by CLUSTER KEYSLOT on node 0, so the test does
 * not rest on its own hash): [{key, slot, shard (index into map), node (index into cluster.nodes)}...], shard by shard.
 */
export async function keysOnEveryShard(cluster, map, prefix, perShard = 1) {
    const want = map.map(() => []);
    for (let n = 0; want.some((w) => w.length < perShard); n++) {
        if (n > 10_000) throw new Error('keysOnEveryShard: no key found for some shard');
        const key = `${prefix}${n}`;
        const slot = Number(await cluster.clients[0].call('CLUSTER', 'KEYSLOT', key));
        const shard = map.indexOf(shardOf(map, slot));
        if (want[shard].length < perShard) want[shard].push({ key, slot, shard, node: ownerIndex(cluster, map, slot) });
    }
    return want.flat();
}

/**
 * Moves `slot` from primary node index `src` to primary node index `dst` by hand, as `redis-cli --cluster reshard`
 * does per slot: IMPORTING on the target, MIGRATING on the source, MIGRATE of its keys, then SETSLOT NODE on the
 * target, the source and every other primary. Returns the number of keys moved.
 */
export async function moveSlot(cluster, slot, src, dst) {
    const S = cluster.clients[src], D = cluster.clients[dst];
    const srcId = await S.call('CLUSTER', 'MYID'), dstId = await D.call('CLUSTER', 'MYID');
    await D.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', srcId);
    await S.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', dstId);
    let moved = 0;
    for (;;) {
        const keys = await S.call('CLUSTER', 'GETKEYSINSLOT', slot, 100);
        if (keys.length === 0) break;
        // (a cluster with tls-cluster yes migrates over TLS: to the target's TLS port)
        await S.call('MIGRATE', '127.0.0.1', cluster.tlsPorts?.[dst] ?? cluster.nodes[dst].port, '', 0, 5000, 'KEYS', ...keys);
        moved += keys.length;
    }
    await D.call('CLUSTER', 'SETSLOT', slot, 'NODE', dstId);
    await S.call('CLUSTER', 'SETSLOT', slot, 'NODE', dstId);
    for (const p of await cluster.primaries()) {
        const i = cluster.nodes.indexOf(p);
        if (i !== src && i !== dst) await cluster.clients[i].call('CLUSTER', 'SETSLOT', slot, 'NODE', dstId);
    }
    return moved;
}

/** A kvedge config whose store is `cluster` (every node a seed); `redis` adds store keys, `extra` top-level ones. */
export function clusterKvConfig(cluster, { redis = {}, kv = {}, extra = {} } = {}) {
    return kvConfig({ cluster: { nodes: cluster.addresses }, command_timeout: '1000ms', ...redis }, kv, { threads: 2, ...extra });
}

/** kvedge on `cluster`, ready once a SET through the KV API answers 200 (the first slot map came). */
export async function startClusterKv(cluster, opts = {}) {
    const k = await startKvedge(clusterKvConfig(cluster, opts));
    try {
        await waitFor(async () => (await kvPost(k, ['SET', 'kvedge-test:warm', '1'])).status === 200,
            { timeoutMs: 15_000, message: 'kvedge writes through the cluster store' });
    } catch (e) {
        await k.stop();
        throw new Error(`${e.message}\n--- kvedge stderr ---\n${k.stderr()}`);
    }
    return k;
}

/** One KV REST call (POST /kv<path> with the JSON body) on a fresh connection. */
export function kvPost(k, body, { path = '', token = RW_TOKEN, timeoutMs = 10_000 } = {}) {
    return http('POST', `${k.url}/kv${path}`, { headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body), timeoutMs });
}

/**
 * A KV REST client on one keep-alive connection. Every call resolves {status, body, json, ms}: an HTTP timeout or a
 * reset gives status 0 and the error's text as body (a hang shows as status 0 after `timeoutMs`).
 */
export function kvClient(k, { token = RW_TOKEN, timeoutMs = 5000 } = {}) {
    const agent = new httpMod.Agent({ keepAlive: true, maxSockets: 1 });
    const call = async (path, body) => {
        const t0 = Date.now();
        try {
            const r = await http('POST', `${k.url}/kv${path}`, {
                headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body), agent, timeoutMs,
            });
            let json;
            try {
                json = JSON.parse(r.body);
            } catch {}
            return { status: r.status, body: r.body, json, ms: Date.now() - t0 };
        } catch (e) {
            return { status: 0, body: String(e.message ?? e), json: undefined, ms: Date.now() - t0 };
        }
    };
    return {
        send: (cmd) => call('', cmd),
        pipeline: (cmds) => call('/pipeline', cmds),
        multi: (cmds) => call('/multi-exec', cmds),
        close: () => agent.destroy(),
    };
}

/** The lines of kvedge's stderr that name the cluster, a node or a redirection (for the failure reports). */
export function clusterLogLines(k, max = 60) {
    const lines = k.stderr().split('\n').filter((l) => /cluster|MOVED|ASK|TRYAGAIN|CLUSTERDOWN|slot|node|link|down|fail|error|warn/i.test(l) &&
        !/client-output-buffer-limit|commands the KV policy refuses/.test(l));
    return lines.slice(-max).join('\n');
}

/** Runs redis-cli with `args`; resolves {code, out, ms}; the child is stopped by its PID after `timeoutMs`. */
export function redisCli(args, { timeoutMs = 90_000 } = {}) {
    return new Promise((resolve) => {
        const t0 = Date.now();
        const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => { out += d; });
        child.stderr.on('data', (d) => { out += d; });
        const timer = setTimeout(() => {
            try {
                process.kill(child.pid, 'SIGKILL');
            } catch {}
        }, timeoutMs);
        child.on('exit', (code, signal) => {
            clearTimeout(timer);
            resolve({ code: code ?? signal, out, ms: Date.now() - t0 });
        });
    });
}

/**
 * An ioredis Cluster client for `cluster` that stands in for the single ioredis client the KV suites check Redis with
 * (kv_helpers' startKvStack `io` when KVEDGE_TEST_TOPOLOGY=cluster; its clearKeys() sees `nodes` and clears every
 * primary): keyed commands go to their slot's primary (ioredis' routing); the keyless ones the suites use answer for
 * the whole cluster: DBSIZE (sum over the primaries), KEYS (concatenated), SCRIPT (every primary), PUBSUB NUMSUB /
 * NUMPAT (summed over every node: a subscriber is on one node); pipeline() runs its commands one by one (an ioredis
 * Cluster pipeline refuses keys of several slots). disconnect() closes it.
 */
export async function clusterIo(cluster) {
    const { createRequire } = await import('node:module');
    const Redis = createRequire(import.meta.url)('ioredis');
    const io = new Redis.Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })), {
        redisOptions: { maxRetriesPerRequest: 2 },
    });
    io.on('error', () => {});
    await waitFor(async () => (await io.ping()) === 'PONG' && io.nodes('master').length === 3, { message: 'ioredis Cluster client ready' });
    const masters = () => io.nodes('master');
    const sum = (xs) => xs.reduce((a, b) => a + b, 0);
    const overrides = {
        dbsize: async () => sum(await Promise.all(masters().map((n) => n.dbsize()))),
        keys: async (pattern) => (await Promise.all(masters().map((n) => n.keys(pattern)))).flat(),
        script: async (...args) => (await Promise.all(masters().map((n) => n.script(...args))))[0],
        pubsub: async (sub, ...args) => {
            const all = await Promise.all(cluster.clients.map((n) => n.pubsub(sub, ...args))); // (ioredis may not know every replica)
            if (String(sub).toUpperCase() === 'NUMPAT') return sum(all.map(Number));
            return all[0].map((v, i) => (i % 2 ? sum(all.map((a) => Number(a[i]))) : v));
        },
        pipeline: () => {
            const queued = [];
            const p = new Proxy({}, {
                get(_, name) {
                    if (name === 'exec')
                        return () => Promise.all(queued.map(([cmd, args]) => io[cmd](...args).then((v) => [null, v], (e) => [e, null])));
                    return (...args) => {
                        queued.push([name, args]);
                        return p;
                    };
                },
            });
            return p;
        },
    };
    return new Proxy(io, {
        get(target, name) {
            if (Object.hasOwn(overrides, name)) return overrides[name];
            const v = target[name];
            return typeof v === 'function' ? v.bind(target) : v;
        },
    });
}
