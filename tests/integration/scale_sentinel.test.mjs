// Issue 12 (scale-out), the sentinel topology: a store whose primary and replicas come from Redis Sentinel
// (`sentinel: {master, addresses}`). A primary, two replicas and three sentinels on loopback
// (tests/integration/topology.mjs, down-after-milliseconds 1000), a real kvedge; every kvedge must exit cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { assertCleanExit, http, makeTempDir, runKvedge, sleep, SOURCE_DIR, startKvedge, startRedis, waitFor, writeConfig } from './harness.mjs';
import { kvConfig, openStream, RW_TOKEN } from './kv_helpers.mjs';
import { client } from './replicas_helpers.mjs';
import { startFakeRedis } from './fake_redis.mjs';
import { REPLICA_ARGS, replicationInfo, startReplicas, startSentinels, waitLinked } from './topology.mjs';

const T = { timeout: 120_000 };
const COMMAND_TIMEOUT_MS = 1000;

function sentinelConfig(t, extra = {}) {
    return kvConfig({ sentinel: { master: t.master, addresses: t.sentinelAddresses }, command_timeout: `${COMMAND_TIMEOUT_MS}ms` }, {},
        { threads: 2, ...extra });
}

const kv = (k, cmd, headers = {}) =>
    http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}`, ...headers }, body: JSON.stringify(cmd) });

test('issue 12 scale-out: sentinel: kvedge -t checks a sentinel store', T, async () => {
    const dir = makeTempDir();
    const check = (redis, name) => runKvedge(['-t', '-c', writeConfig(kvConfig(redis, {}, { listen: [{ host: '127.0.0.1', port: 1 }] }), { dir, name })]);
    const s = (o) => ({ sentinel: { master: 'mymaster', addresses: ['127.0.0.1:26379'], ...o } });
    const bad = [
        [{ sentinel: { addresses: ['127.0.0.1:26379'] } }, /sentinel: master is required/],
        [s({ addresses: [] }), /sentinel.addresses: list at least one sentinel/],
        [s({ addresses: ['127.0.0.1'] }), /sentinel.addresses\[0\]: "127.0.0.1" is not host:port/],
        [s({ addresses: ['127.0.0.1:0'] }), /sentinel.addresses\[0\]: .* is not host:port/],
        [s({ addresses: ['127.0.0.1:99999'] }), /sentinel.addresses\[0\]: .* is not host:port/],
        [s({ addresses: ['user@127.0.0.1:26379'] }), /sentinel.addresses\[0\]: .* is not host:port/],
        [s({ addresses: ['127.0.0.1:26379', '127.0.0.1:26379'] }), /sentinel.addresses\[1\]: the same sentinel as sentinel.addresses\[0\]/],
        [s({ master: 'my master' }), /sentinel.master: a name without spaces/],
        [s({ db: -1 }), /db/],
        [{ ...s({}), url: 'redis://127.0.0.1:6379' }, /url: a sentinel store gets its primary and replicas from the sentinels/],
        [{ ...s({}), replicas: ['redis://127.0.0.1:6380'] }, /replicas: a sentinel store gets its replicas from the sentinels/],
        [{ ...s({}), ca_file: '/etc/ssl/certs/ca-certificates.crt' }, /ca_file: only a store reached over TLS/],
        [s({ addresses: Array.from({ length: 17 }, (_, i) => `127.0.0.1:${26379 + i}`) }), /addresses/],
        [s({ unknown: 1 }), /unknown/],
    ];
    for (const [i, [redis, re]] of bad.entries()) {
        const r = await check(redis, `bad${i}.yaml`);
        assert.notEqual(r.code, 0, `${JSON.stringify(redis)} is refused`);
        assert.match(r.stderr, re, JSON.stringify(redis));
    }
    const ok = await check({ ...s({ addresses: ['127.0.0.1:26379', 'localhost:26380'], username: 'sentinel-user', password: 'sentinel-secret', db: 3 }),
        username: 'app', password: 'app-secret' }, 'ok.yaml');
    assert.equal(ok.code, 0, ok.stderr);
    assert.doesNotMatch(ok.stdout + ok.stderr, /sentinel-secret|app-secret/, 'no password printed');
    const example = await runKvedge(['-t', '-c', path.join(SOURCE_DIR, 'examples/sentinel.yaml')]);
    assert.equal(example.code, 0, `examples/sentinel.yaml is valid: ${example.stderr}`);
    const help = await runKvedge(['--help-config']);
    assert.match(help.stdout, /sentinel/, '--help-config documents sentinel');
});

test('issue 12 scale-out: sentinel: kvedge finds the primary and replicas, token reads go to the replicas', T, async () => {
    const t = await startSentinels();
    let k;
    try {
        k = await startKvedge(sentinelConfig(t, { threads: 1 }));
        await waitFor(async () => (await kv(k, ['SET', 'warm', '1'])).status === 200, { message: 'kvedge writes through the sentinel store' });
        const cl = client(k);
        let stale = 0;
        for (let i = 0; i < 300; i++) {
            assert.equal((await cl.send(['SET', 'ryw', String(i)])).status, 200);
            const r = await cl.send(['GET', 'ryw']);
            assert.equal(r.status, 200);
            if (JSON.parse(r.body).result !== String(i)) stale++;
        }
        cl.close();
        assert.equal(stale, 0, 'no stale read');
        const replicaGets = (await Promise.all(t.clients.replicas.map((c) => c.info('commandstats'))))
            .map((s) => Number(/cmdstat_get:calls=(\d+)/.exec(s)?.[1] ?? 0));
        console.log(`# 300 token reads: ${replicaGets.join(' / ')} on the replicas`);
        assert.ok(replicaGets.reduce((a, b) => a + b, 0) >= 150, `most token reads from the replicas: ${replicaGets}`);
        // the primary's writes are the primary's: the replicas ran no SET from kvedge (only the replication stream's,
        // which INFO commandstats counts too: compare with the primary's count)
        const sets = await Promise.all([t.clients.primary, ...t.clients.replicas].map(async (c) => Number(/cmdstat_set:calls=(\d+)/.exec(await c.info('commandstats'))?.[1] ?? 0)));
        assert.ok(sets.slice(1).every((n) => n <= sets[0]), `the replicas ran only replicated SETs: ${sets}`);
    } finally {
        if (k) assertCleanExit(await k.stop());
        await t.stop();
    }
});

test('issue 12 scale-out: sentinel: the first sentinel killed, then the primary killed with -9 under write load: 503s, never a hang, recovery soon after +switch-master, 0 writes to the restarted old primary, 0 stale token reads', T, async () => {
    const t = await startSentinels();
    let k;
    try {
        k = await startKvedge(sentinelConfig(t));
        await waitFor(async () => (await kv(k, ['SET', 'warm', '1'])).status === 200, { message: 'kvedge writes through the sentinel store' });
        const oldPort = t.primary.port;
        // the sentinel every thread asked first goes away: kvedge moves to the next one (and still writes meanwhile)
        await t.sentinels[0].kill('SIGKILL');
        for (let i = 0; i < 10; i++) {
            assert.equal((await kv(k, ['SET', 'still', String(i)])).status, 200, 'writes go on without the first sentinel');
            await sleep(50);
        }
        // +switch-master, as a client of a sentinel sees it
        const sub = t.sentinels[1].client();
        let switchAt = 0, switchMsg = '';
        sub.on('message', (ch, msg) => {
            if (ch === '+switch-master' && !switchAt) {
                switchAt = Date.now();
                switchMsg = msg;
            }
        });
        await sub.subscribe('+switch-master');

        // 8 clients of write->read pairs with their tokens, until told to stop
        let stop = false, stale = 0, ok = 0, unavailable = 0, other = [], maxMs = 0, killedAt = 0, lastFailAt = 0, firstOkAfterSwitch = 0;
        const load = Promise.all(Array.from({ length: 8 }, async (_, c) => {
            const cl = client(k);
            try {
                for (let i = 0; !stop; i++) {
                    const key = `fo:${c}`, value = `${c}-${i}`;
                    let t0 = Date.now();
                    const w = await cl.send(['SET', key, value]);
                    maxMs = Math.max(maxMs, Date.now() - t0);
                    const note = (r) => {
                        if (r.status === 200) {
                            ok++;
                            if (switchAt && !firstOkAfterSwitch && Date.now() >= switchAt) firstOkAfterSwitch = Date.now();
                        } else if (r.status === 503) {
                            unavailable++;
                            lastFailAt = Date.now();
                        } else {
                            other.push(`${r.status} ${r.body}`);
                        }
                    };
                    note(w);
                    if (w.status !== 200) {
                        await sleep(20);
                        continue;
                    }
                    t0 = Date.now();
                    const r = await cl.send(['GET', key]);
                    maxMs = Math.max(maxMs, Date.now() - t0);
                    note(r);
                    if (r.status === 200 && JSON.parse(r.body).result !== value) stale++;
                }
            } finally {
                cl.close();
            }
        }));
        await sleep(1000);
        const okBeforeKill = ok;
        killedAt = Date.now();
        await t.primary.kill('SIGKILL');
        await waitFor(() => switchAt !== 0, { timeoutMs: 30_000, message: '+switch-master from the sentinels' });
        const newPort = Number(switchMsg.split(' ')[4]);
        assert.notEqual(newPort, oldPort, `the new primary is another node: ${switchMsg}`);
        await waitFor(() => firstOkAfterSwitch !== 0, { timeoutMs: t.downAfterMs + 2000, message: 'a request succeeds within down-after + 2 s of +switch-master' });
        const recoveryMs = firstOkAfterSwitch - switchAt;

        // the old primary comes back on its port, empty and saying master, until Sentinel makes it a replica: kvedge
        // must never write to it (the sentinels name the new primary). Its SET count while it is a master, or a
        // replica not yet linked (before the replication stream brings the new primary's SETs), stays 0.
        const old = await startRedis({ port: oldPort, args: REPLICA_ARGS });
        const oc = old.client();
        let masterSamples = 0, setsWhileMaster = 0, demotedAfterMs = 0;
        const restartedAt = Date.now();
        await waitFor(async () => {
            const info = await oc.info('everything');
            const role = /^role:(\w+)/m.exec(info)?.[1];
            const link = /^master_link_status:(\w+)/m.exec(info)?.[1];
            const sets = Number(/^cmdstat_set:calls=(\d+)/m.exec(info)?.[1] ?? 0);
            if (role === 'master' || link !== 'up') {
                masterSamples += role === 'master' ? 1 : 0;
                setsWhileMaster = Math.max(setsWhileMaster, sets);
                return false;
            }
            demotedAfterMs = Date.now() - restartedAt;
            return true;
        }, { timeoutMs: 40_000, intervalMs: 50, message: 'Sentinel makes the restarted old primary a replica' });
        await sleep(500); // load on the new primary, the old one a replica now
        stop = true;
        await load;
        sub.disconnect();
        const okAfter = ok - okBeforeKill;
        console.log(`# failover: +switch-master ${switchAt - killedAt} ms after the kill; first success ${recoveryMs} ms after it ` +
            `(last 503 ${lastFailAt ? lastFailAt - killedAt : 0} ms after the kill); ${unavailable} x 503, longest request ${maxMs} ms; ` +
            `old primary restarted: master for ${demotedAfterMs} ms (${masterSamples} samples), ${setsWhileMaster} SETs reached it`);
        assert.deepEqual(other, [], 'only 200 or 503');
        assert.ok(maxMs <= COMMAND_TIMEOUT_MS + 1500, `no request hangs past the command timeout: ${maxMs} ms`);
        assert.ok(recoveryMs <= t.downAfterMs + 2000, `recovery ${recoveryMs} ms after +switch-master`);
        assert.ok(masterSamples > 0, 'the restarted old primary was seen as a master (the window the test is about)');
        assert.equal(setsWhileMaster, 0, 'no write reached the restarted old primary');
        assert.ok(okAfter > 100, `writes and reads went on after the failover: ${okAfter}`);
        assert.equal(stale, 0, 'no token read missed the write before it');
        // and it now writes to the new primary
        const w = await kv(k, ['SET', 'after', '1']);
        assert.equal(w.status, 200);
        const np = [t.primary, ...t.replicas].find((r) => r.port === newPort);
        assert.equal(await np.client().get('after'), '1', 'the write is on the new primary');
        assert.equal((await replicationInfo(oc)).role, 'slave');
        await old.stop();
    } finally {
        if (k) assertCleanExit(await k.stop());
        await t.stop();
    }
});

/** a fake sentinel naming 127.0.0.1:`named.port` as the master (no replicas), confirming SUBSCRIBE */
async function fakeSentinel(named) {
    const bulk = (x) => `$${Buffer.byteLength(String(x))}\r\n${x}\r\n`;
    return startFakeRedis((argv) => {
        const cmd = argv.map((a) => a.toLowerCase());
        if (cmd[0] === 'sentinel' && cmd[1] === 'get-master-addr-by-name')
            return argv[2] === 'mymaster' ? `*2\r\n${bulk('127.0.0.1')}${bulk(named.port)}` : '*-1\r\n';
        if (cmd[0] === 'sentinel' && cmd[1] === 'replicas') return '*0\r\n';
        if (cmd[0] === 'subscribe') return `*3\r\n${bulk('subscribe')}${bulk(argv[1])}:1\r\n`;
        if (cmd[0] === 'auth') return '+OK\r\n';
        return '-ERR unknown command\r\n';
    });
}

const setStats = async (c) => {
    const m = /^cmdstat_set:calls=(\d+),.*rejected_calls=(\d+)/m.exec(await c.info('commandstats'));
    return m ? { calls: Number(m[1]), rejected: Number(m[2]) } : { calls: 0, rejected: 0 };
};

test('issue 12 scale-out: sentinel: a node the sentinel names that does not say master gets no write; -READONLY is a 503 and kvedge asks again', T, async () => {
    const t = await startReplicas({ replicas: 1 });
    const [p, r] = [t.primary, t.replicas[0]];
    const [pc, rc] = [t.clients.primary, t.clients.replicas[0]];
    const named = { port: r.port }; // the sentinel names the replica: it says slave
    const fake = await fakeSentinel(named);
    let k;
    try {
        k = await startKvedge(kvConfig({ sentinel: { master: 'mymaster', addresses: [fake.url.slice('redis://'.length)] }, command_timeout: '1s' }, {}, { threads: 2 }));
        // ROLE says slave: the link never comes up, every write is a prompt 503 and none reaches the replica
        for (let i = 0; i < 20; i++) {
            const t0 = Date.now();
            const w = await kv(k, ['SET', 'x', String(i)]);
            assert.equal(w.status, 503, w.body);
            assert.ok(Date.now() - t0 < 500, 'a 503 at once, not after a timeout');
            await sleep(25);
        }
        assert.deepEqual(await setStats(rc), { calls: 0, rejected: 0 }, 'the replica the sentinel named saw no SET');
        // the sentinel names the primary: writes go there
        named.port = p.port;
        await waitFor(async () => (await kv(k, ['SET', 'x', 'p'])).status === 200, { timeoutMs: 3000, message: 'writes once the sentinel names the primary' });
        assert.equal(await pc.get('x'), 'p');
        // the primary becomes a replica behind kvedge's back (the sentinel still names it): the first write that reaches
        // it gets -READONLY, which is a 503 (never the Redis error), and no write is applied there afterwards
        await rc.replicaof('NO', 'ONE');
        await pc.replicaof('127.0.0.1', String(r.port));
        await waitLinked(pc);
        const before = await setStats(pc);
        const statuses = [];
        for (let i = 0; i < 20; i++) {
            statuses.push((await kv(k, ['SET', 'y', String(i)])).status);
            await sleep(25);
        }
        assert.ok(statuses.every((s) => s === 503), `503 for each write: ${statuses}`);
        const after = await setStats(pc);
        assert.equal(after.calls - before.calls, 0, 'no SET ran on the demoted primary');
        assert.ok(after.rejected - before.rejected <= 2, `at most one -READONLY per thread's link: ${JSON.stringify(after)}`);
        // the sentinel names the new primary: writes go on there
        named.port = r.port;
        await waitFor(async () => (await kv(k, ['SET', 'z', 'r'])).status === 200, { timeoutMs: 3000, message: 'writes once the sentinel names the new primary' });
        assert.equal(await rc.get('z'), 'r');
        assert.ok(fake.commands.some((c) => c.argv[0] === 'SUBSCRIBE' && c.argv[1] === '+switch-master'), 'kvedge subscribed to +switch-master');
    } finally {
        if (k) assertCleanExit(await k.stop());
        await fake.stop();
        await t.stop();
    }
});

test('issue 12 scale-out: sentinel: on the wire: each side has its own credentials, no command before ROLE says master, -LOADING is a 503 and a new connection, /subscribe is 501', T, async () => {
    // a fake "primary" whose ROLE answer the test sets, and which answers every SET with -LOADING
    const node = { role: 'slave' };
    const primary = await startFakeRedis((argv) => {
        const cmd = argv[0].toUpperCase();
        if (cmd === 'ROLE')
            return node.role === 'master' ? '*3\r\n$6\r\nmaster\r\n:100\r\n*0\r\n'
                : '*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:100\r\n';
        if (cmd === 'SET') return '-LOADING Redis is loading the dataset in memory\r\n';
        if (cmd === 'AUTH') return '+OK\r\n';
        return '-ERR unexpected\r\n';
    });
    const fake = await fakeSentinel({ port: Number(primary.url.split(':')[2]) });
    let k;
    try {
        k = await startKvedge(kvConfig({
            sentinel: { master: 'mymaster', addresses: [fake.url.slice('redis://'.length)], username: 'watcher', password: 'sentinel-secret-1' },
            username: 'app', password: 'node-secret-2', command_timeout: '1s',
        }, {}, { threads: 1 }));
        await waitFor(() => primary.commands.some((c) => c.argv[0] === 'ROLE'), { message: 'kvedge asks ROLE on connect' });
        // each side gets its own credentials
        assert.deepEqual(fake.commands.find((c) => c.argv[0] === 'AUTH')?.argv, ['AUTH', 'watcher', 'sentinel-secret-1']);
        assert.deepEqual(primary.commands.find((c) => c.argv[0] === 'AUTH')?.argv, ['AUTH', 'app', 'node-secret-2']);
        for (let i = 0; i < 10; i++) {
            const w = await kv(k, ['SET', 'k', 'v']);
            assert.equal(w.status, 503, w.body);
            await sleep(50);
        }
        const sent = primary.commands.map((c) => c.argv[0].toUpperCase());
        assert.deepEqual([...new Set(sent)].sort(), ['AUTH', 'PING', 'ROLE'], `only the handshake reached a node that says slave: ${[...new Set(sent)]}`);
        // it says master now: the SETs reach it, and its -LOADING is a 503 that rebuilds the connection
        node.role = 'master';
        await waitFor(async () => {
            if (primary.commands.some((c) => c.argv[0] === 'SET')) return true;
            await kv(k, ['SET', 'k', 'v']); // (503 until the link is up)
            return false;
        }, { timeoutMs: 5000, message: 'a SET reaches the node once it says master' });
        const conns = primary.connections();
        const w = await kv(k, ['SET', 'k', 'v']);
        assert.equal(w.status, 503, `-LOADING is a 503, not Redis' error: ${w.body}`);
        assert.doesNotMatch(w.body, /LOADING/);
        await waitFor(() => primary.connections() > conns, { timeoutMs: 3000, message: 'a new connection after -LOADING' });
        const s = await openStream(`${k.url}/kv/subscribe/chan`);
        assert.equal(s.status, 501, 'subscriptions are not done yet on a sentinel store');
        s.close();
        const res = await k.stop();
        k = null;
        assertCleanExit(res);
        assert.doesNotMatch(res.stderr, /sentinel-secret-1|node-secret-2/, 'no password in the log');
    } finally {
        if (k) assertCleanExit(await k.stop());
        await fake.stop();
        await primary.stop();
    }
});

test('issue 12 scale-out: sentinel: a sentinel whose view is stale (it names a replica) is left for the next one', T, async () => {
    const t = await startReplicas({ replicas: 1 });
    const stale = await fakeSentinel({ port: t.replicas[0].port });
    const good = await fakeSentinel({ port: t.primary.port });
    let k;
    try {
        k = await startKvedge(kvConfig({ sentinel: { master: 'mymaster', addresses: [stale.url.slice(8), good.url.slice(8)] }, command_timeout: '1s' }, {}, { threads: 2 }));
        const t0 = Date.now();
        await waitFor(async () => (await kv(k, ['SET', 'stale', '1'])).status === 200, { timeoutMs: 5000, message: 'writes through the sentinel with the current view' });
        console.log(`# the first write succeeded ${Date.now() - t0} ms after kvedge started asking the stale sentinel`);
        assert.equal(await t.clients.primary.get('stale'), '1');
        await waitFor(async () => (await t.clients.replicas[0].get('stale')) === '1', { message: 'the SET replicated' });
        assert.deepEqual(await setStats(t.clients.replicas[0]), { calls: 1, rejected: 0 }, 'the replica ran only the replicated SET');
    } finally {
        if (k) assertCleanExit(await k.stop());
        await stale.stop();
        await good.stop();
        await t.stop();
    }
});
