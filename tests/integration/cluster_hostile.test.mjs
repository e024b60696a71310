// Issue 12 (scale-out): a Redis Cluster node is an outside party too. A fake node (fake_redis.mjs) that serves every
// slot, then answers with redirections and maps kvedge must not follow: a MOVED or ASK to an address no map named
// never makes kvedge connect there (and authenticate), a malformed redirection or map is an error with a log line,
// never a crash, and requests end with 503 within their timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { assertCleanExit, http, sleep, startKvedge, waitFor } from './harness.mjs';
import { kvConfig, RW_TOKEN } from './kv_helpers.mjs';
import { parseCommand, startFakeRedis } from './fake_redis.mjs';
import { keySlot } from './cluster_helpers.mjs';

const T = { timeout: 60_000 };
const kv = (k, cmd) => http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(cmd) });

/** RESP of a JS value: strings as bulk strings, numbers as integers, arrays nested. */
function resp(v) {
    if (Array.isArray(v)) return `*${v.length}\r\n${v.map(resp).join('')}`;
    if (typeof v === 'number') return `:${v}\r\n`;
    return `$${Buffer.byteLength(v, 'latin1')}\r\n${v}\r\n`;
}

const shards = (port) => resp([['slots', [0, 16383], 'nodes', [['port', port, 'ip', '127.0.0.1', 'role', 'master', 'health', 'online']]]]);

/** The cluster counters of /metrics for the default store: {redirects_total, slot_map_refreshes_total}. */
async function clusterCounters(k) {
    const text = (await http('GET', `${k.url}/metrics`)).body;
    const out = {};
    for (const name of ['redirects_total', 'slot_map_refreshes_total']) {
        const m = new RegExp(`^kvedge_kv_${name}\\{store="default"\\} (\\d+)$`, 'm').exec(text);
        assert.ok(m, `kvedge_kv_${name} in /metrics`);
        out[name] = Number(m[1]);
    }
    return out;
}

test('issue 12 cluster: a hostile node: redirections to unknown addresses are not followed, bad maps and redirections are errors', T, async () => {
    // a trap: where the hostile node tries to send kvedge
    let trapped = 0;
    const trap = net.createServer((s) => { trapped++; s.destroy(); });
    await new Promise((ok) => trap.listen({ host: '127.0.0.1', port: 0 }, ok));
    const trapPort = trap.address().port;
    let mode = 'ok';
    let port = 0;
    const once = new Set(); // keys answered with a redirection the first time only
    const fake = await startFakeRedis((argv) => {
        const cmd = argv.map((a) => a.toUpperCase());
        if (cmd[0] === 'CLUSTER' && cmd[1] === 'SHARDS') {
            if (mode === 'garbage') return resp([['slots', [0, 99999], 'nodes', []]]);
            if (mode === 'stranger') return resp([['slots', [0, 16383], 'nodes', [['port', 1, 'ip', 'evil.example', 'role', 'master', 'health', 'online']]]]);
            return shards(port);
        }
        // a redirection for the key's own slot, as Redis sends them, to an address no map named
        if (cmd[0] === 'GET' && argv[1] === 'moved') return `-MOVED ${keySlot('moved')} 127.0.0.1:${trapPort}\r\n`;
        if (cmd[0] === 'GET' && argv[1] === 'ask') return `-ASK ${keySlot('ask')} 127.0.0.1:${trapPort}\r\n`;
        // another slot's: not Redis Cluster's (a script's text): answered as the command's error
        if (cmd[0] === 'GET' && argv[1] === 'otherslot') return `-MOVED ${(keySlot('otherslot') + 1) % 16384} 127.0.0.1:${port}\r\n`;
        if (cmd[0] === 'GET' && argv[1] === 'badport') return '-MOVED 1 127.0.0.1:99999\r\n';
        if (cmd[0] === 'GET' && argv[1] === 'badslot') return '-MOVED 20000 127.0.0.1:6379\r\n';
        if (cmd[0] === 'GET' && argv[1] === 'down') return '-CLUSTERDOWN The cluster is down\r\n';
        // the redirections Redis sends, to a node the map names (this one), once: followed
        if (cmd[0] === 'GET' && argv[1] === 'self' && !once.has('self')) return once.add('self') && `-MOVED ${keySlot('self')} 127.0.0.1:${port}\r\n`;
        if (cmd[0] === 'GET' && argv[1] === 'busy' && !once.has('busy')) return once.add('busy') && '-TRYAGAIN Multiple keys request during rehashing of slot\r\n';
        if (cmd[0] === 'GET') return '$2\r\nok\r\n';
        return '+OK\r\n';
    });
    port = Number(fake.url.split(':').pop());
    let k;
    try {
        k = await startKvedge(kvConfig({ cluster: { nodes: [`127.0.0.1:${port}`] }, command_timeout: '1500ms' }));
        await waitFor(async () => (await kv(k, ['GET', 'x'])).status === 200, { timeoutMs: 5000, message: 'the fake map' });
        // redirections followed are counted in /metrics, and the maps read
        const before = await clusterCounters(k);
        assert.ok(before.slot_map_refreshes_total >= 1, JSON.stringify(before));
        for (const key of ['self', 'busy']) assert.deepEqual(JSON.parse((await kv(k, ['GET', key])).body), { result: 'ok' }, key);
        const followed = await clusterCounters(k);
        assert.equal(followed.redirects_total - before.redirects_total, 2, 'a MOVED and a TRYAGAIN followed');
        await waitFor(async () => (await clusterCounters(k)).slot_map_refreshes_total > before.slot_map_refreshes_total,
            { message: 'a map read after the MOVED' });
        for (const key of ['moved', 'ask']) {
            const t0 = Date.now();
            const r = await kv(k, ['GET', key]);
            assert.ok(r.status === 503 || r.status === 504, `${key}: ${r.status} ${r.body}`);
            assert.ok(Date.now() - t0 < 5000, `${key} answered within its timeout`);
        }
        const counted = (await clusterCounters(k)).redirects_total;
        const other = await kv(k, ['GET', 'otherslot']);
        assert.equal(other.status, 400, other.body);
        assert.match(other.body, /MOVED/, 'the error as the node sent it');
        assert.equal((await clusterCounters(k)).redirects_total, counted, 'a script\'s MOVED text is not a redirection');
        for (const key of ['badport', 'badslot', 'down']) {
            const r = await kv(k, ['GET', key]);
            assert.ok(r.status >= 400, `${key}: ${r.status} ${r.body}`);
        }
        // maps it must refuse: the old map stays
        for (const m of ['garbage', 'stranger']) {
            mode = m;
            await kv(k, ['GET', 'moved']); // asks for a new map, which it refuses
            await sleep(300);
        }
        mode = 'ok';
        // a batch that times out asks for a map (at most every 100 ms): the refused maps are logged, the store still works
        const after = await kv(k, ['GET', 'x']);
        assert.deepEqual(JSON.parse(after.body), { result: 'ok' }, k.stderr());
        assert.equal(trapped, 0, 'kvedge never connected where the hostile node pointed');
        assert.ok(k.running, 'kvedge is running');
    } finally {
        const r = await k?.stop();
        await fake.stop();
        await new Promise((ok) => trap.close(ok));
        if (r) {
            assertCleanExit(r);
            const log = k.stderr();
            assert.match(log, /cannot read the slot map from 127\.0\.0\.1:\d+: (the answer names no node serving a slot|a slot range)/,
                'the map without nodes is refused');
            assert.match(log, /answered 503/, 'a refused redirection is logged');
            assert.doesNotMatch(log, new RegExp(`${trapPort}.* is up`), 'no link to the trap');
        }
    }
});

test('issue 12 cluster: no seed answers: requests get 503 at once (never a wait), the failure is logged; the store comes up once a seed does', T, async () => {
    // a port nothing listens on yet, then a fake node there
    const probe = net.createServer();
    await new Promise((ok) => probe.listen({ host: '127.0.0.1', port: 0 }, ok));
    const port = probe.address().port;
    await new Promise((ok) => probe.close(ok));
    let k, fake;
    try {
        k = await startKvedge(kvConfig({ cluster: { nodes: [`127.0.0.1:${port}`] }, command_timeout: '1s' }));
        for (let i = 0; i < 5; i++) {
            const t0 = Date.now();
            const r = await kv(k, ['GET', 'x']);
            assert.equal(r.status, 503, r.body);
            assert.ok(Date.now() - t0 < 500, `answered at once: ${Date.now() - t0} ms`);
        }
        await waitFor(() => /cannot read the slot map from 127\.0\.0\.1:\d+/.test(k.stderr()), { timeoutMs: 5000, message: 'the failure logged' });
        // a node comes up on the seed's address: the store follows without a restart
        fake = await new Promise((ok) => {
            const srv = net.createServer((sock) => {
                let buf = Buffer.alloc(0);
                sock.on('error', () => {});
                sock.on('data', (d) => {
                    buf = Buffer.concat([buf, d]);
                    for (let cmd; (cmd = parseCommand(buf)) !== null; ) {
                        buf = buf.subarray(cmd.used);
                        const c = cmd.argv.map((a) => a.toUpperCase());
                        sock.write(c[0] === 'CLUSTER' ? shards(port) : c[0] === 'GET' ? '$2\r\nok\r\n' : c[0] === 'EVAL_RO' ? '*0\r\n' : '+OK\r\n');
                    }
                });
            });
            srv.listen({ host: '127.0.0.1', port }, () => ok(srv));
        });
        await waitFor(async () => (await kv(k, ['GET', 'x'])).status === 200, { timeoutMs: 10_000, message: 'the store up once the seed answers' });
    } finally {
        const r = await k?.stop();
        if (fake) await new Promise((ok) => fake.close(ok));
        if (r) assertCleanExit(r);
    }
});
