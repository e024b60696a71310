// Issue 12 (scale-out), min_replicas_ack: a KV request that wrote is answered only once N replicas acknowledged its
// writes (PUBLISH + WAIT on a link of its own to the primary, proxy/kv_ack.h), else 503 "write not acknowledged" after
// min_replicas_ack_timeout (the write stays on the primary). Real redis-servers on loopback (topology.mjs), a real
// kvedge; the partition test runs in a network namespace of its own (wait_partition_child.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, http, makeTempDir, SANITIZE, runKvedge, sleep, startKvedge, startUpstream, waitFor, writeConfig } from './harness.mjs';
import { kvConfig, RW_TOKEN } from './kv_helpers.mjs';
import { commandCalls, runInNetns, startReplicas, startSentinels } from './topology.mjs';

const T = { timeout: 120_000 };
const AUTH = { authorization: `Bearer ${RW_TOKEN}` };

function ackConfig(t, redis = {}) {
    return kvConfig({ url: t.url, command_timeout: '2s', min_replicas_ack: 1, min_replicas_ack_timeout: '100ms', ...redis }, {}, { threads: 2 });
}

const post = (k, p, body) => http('POST', `${k.url}/kv${p}`, { headers: AUTH, body: JSON.stringify(body) });

async function timed(fn) {
    const start = process.hrtime.bigint();
    const r = await fn();
    return { r, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

test('issue 12 scale-out: min_replicas_ack: kvedge -t checks it', T, async () => {
    const dir = makeTempDir();
    const check = (redis, name) => runKvedge(['-t', '-c', writeConfig(kvConfig(redis, {}, { listen: [{ host: '127.0.0.1', port: 1 }] }), { dir, name })]);
    const bad = [
        [{ url: 'embedded', min_replicas_ack: 1 }, /min_replicas_ack: only a store on an external Redis/],
        [{ url: 'https://kv.example.com', token: 'x'.repeat(32), min_replicas_ack: 1 }, /min_replicas_ack: only a store on an external Redis/],
        [{ url: 'redis://127.0.0.1:7000', min_replicas_ack: 1, min_replicas_ack_timeout: '1s' }, /min_replicas_ack_timeout: 1000ms, but it must be below command_timeout \(1000ms\)/],
        [{ url: 'redis://127.0.0.1:7000', min_replicas_ack: -1 }, /min_replicas_ack/],
        [{ url: 'redis://127.0.0.1:7000', min_replicas_ack: 65 }, /min_replicas_ack/],
        [{ url: 'redis://127.0.0.1:7000', min_replicas_ack: 1, min_replicas_ack_timeout: 'soon' }, /min_replicas_ack_timeout/],
        [{ url: 'redis://127.0.0.1:7000', min_replicas_ack: 1, min_replicas_ack_timeout: '0ms' }, /min_replicas_ack_timeout/],
    ];
    for (const [i, [redis, re]] of bad.entries()) {
        const r = await check(redis, `bad${i}.yaml`);
        assert.notEqual(r.code, 0, `${JSON.stringify(redis)} is refused`);
        assert.match(r.stderr, re, JSON.stringify(redis));
    }
    const ok = await check({ url: 'redis://127.0.0.1:7000', min_replicas_ack: 2, min_replicas_ack_timeout: '250ms', replicas: ['redis://127.0.0.1:7001'] }, 'ok.yaml');
    assert.equal(ok.code, 0, ok.stderr);
    const sentinel = await check({ sentinel: { master: 'mymaster', addresses: ['127.0.0.1:26379'] }, min_replicas_ack: 1 }, 'sentinel.yaml');
    assert.equal(sentinel.code, 0, `a sentinel store may wait for its replicas: ${sentinel.stderr}`);
    const help = await runKvedge(['--help-config']);
    assert.match(help.stdout, /min_replicas_ack/, '--help-config documents it');
});

// with the replicas topology too (`replicas:` listed): its writes run on the primary's link, which waits the same way
test('issue 12 scale-out: min_replicas_ack: with the replica linked, writes (single, pipeline, multi-exec) succeed after a WAIT; reads wait for nothing', T, async () => {
    const t = await startReplicas({ replicas: 1 });
    const k = await startKvedge(ackConfig(t, { replicas: t.replicaUrls }));
    try {
        const waits0 = await commandCalls(t.clients.primary, 'wait');
        const w = await post(k, '', ['SET', 'ack:a', '1']);
        assert.equal(w.status, 200, w.body);
        const p = await post(k, '/pipeline', [['SET', 'ack:b', '2'], ['INCR', 'ack:c'], ['GET', 'ack:b']]);
        assert.equal(p.status, 200, p.body);
        assert.deepEqual(JSON.parse(p.body).map((e) => e.result), ['OK', 1, '2']);
        const m = await post(k, '/multi-exec', [['SET', 'ack:d', '4'], ['INCR', 'ack:c']]);
        assert.equal(m.status, 200, m.body);
        const waits1 = await commandCalls(t.clients.primary, 'wait');
        assert.ok(waits1 - waits0 >= 3, `each writing request waited (${waits1 - waits0} WAITs)`);
        // every acknowledged write is on the replica at once (WAIT counted it there)
        assert.deepEqual(await t.clients.replicas[0].mget('ack:a', 'ack:b', 'ack:c', 'ack:d'), ['1', '2', '2', '4']);
        for (let i = 0; i < 20; i++) assert.equal((await post(k, '', ['GET', 'ack:a'])).status, 200);
        assert.equal(await commandCalls(t.clients.primary, 'wait'), waits1, 'reads send no WAIT');
        // 200 concurrent writers from 16 clients: all acknowledged, and the WAITs are shared (one round per replica round trip)
        const many = await Promise.all(Array.from({ length: 200 }, (_, i) => post(k, '', ['SET', `ack:many:${i}`, String(i)])));
        assert.deepEqual([...new Set(many.map((r) => r.status))], [200]);
        const waits2 = await commandCalls(t.clients.primary, 'wait');
        console.log(`# 200 concurrent writes: ${waits2 - waits1} WAITs`);
        assert.ok(waits2 - waits1 <= 200, 'at most one WAIT per write');
    } finally {
        assertCleanExit(await k.stop());
        await t.stop();
    }
});

test('issue 12 scale-out: min_replicas_ack: more replicas asked for than exist: 503 "write not acknowledged", the write stays on the primary', T, async () => {
    const t = await startReplicas({ replicas: 1 });
    const k = await startKvedge(ackConfig(t, { min_replicas_ack: 2 }));
    try {
        const { r, ms } = await timed(() => post(k, '', ['SET', 'two:a', 'x']));
        assert.equal(r.status, 503, r.body);
        assert.match(JSON.parse(r.body).error, /^ERR write not acknowledged .*may still be on the primary: not rolled back/);
        assert.ok(r.headers['upstash-sync-token'], 'the applied write still has its sync token');
        assert.ok(ms >= 90 && ms < 1500, `answered after the 100 ms timeout (${ms.toFixed(1)} ms)`);
        assert.equal(await t.clients.primary.get('two:a'), 'x', 'not rolled back');
        const m = await post(k, '/multi-exec', [['SET', 'two:b', 'y']]);
        assert.equal(m.status, 503, m.body);
        const read = await post(k, '', ['GET', 'two:a']);
        assert.equal(read.status, 200, 'reads are not held');
        // (the log line is written before the answer, but kvedge's stderr reaches the test on its own pipe)
        await waitFor(() => /min_replicas_ack on 127\.0\.0\.1:\d+: WAIT 2 100: 1 acknowledged; writes answer 503/.test(k.stderr()),
            { timeoutMs: 5000, message: 'the log says why' });
        const metrics = (await http('GET', `${k.url}/metrics`)).body;
        assert.match(metrics, /^kvedge_kv_writes_not_acknowledged_total\{store="default"\} 2$/m, 'the two 503s are counted');
    } finally {
        assertCleanExit(await k.stop());
        await t.stop();
    }
});

test('issue 12 scale-out: min_replicas_ack: the replica stopped (SIGSTOP): writes answer 503 within the timeout, reads go on; SIGCONT: writes succeed again', T, async () => {
    const t = await startReplicas({ replicas: 1 });
    // one thread: its waiter logs the episode's start and end (each thread's waiter logs its own)
    const k = await startKvedge({ ...ackConfig(t), threads: 1 });
    try {
        assert.equal((await post(k, '', ['SET', 'stop:warm', '1'])).status, 200);
        await t.replicas[0].kill('SIGSTOP');
        // the reads go while the writes wait for their acknowledgement (20 ms in: their SETs are answered by then)
        const pending = Promise.all(Array.from({ length: 20 }, (_, i) => timed(() => post(k, '', ['SET', `stop:${i}`, String(i)]))));
        await sleep(20);
        const reads = await Promise.all(Array.from({ length: 20 }, () => timed(() => post(k, '', ['GET', 'stop:warm']))));
        const writes = await pending;
        for (const { r, ms } of writes) {
            assert.equal(r.status, 503, r.body);
            assert.match(r.body, /write not acknowledged/);
            assert.ok(ms < 1500, `within the timeout and some scheduling (${ms.toFixed(1)} ms)`);
        }
        const slowest = Math.max(...writes.map((w) => w.ms));
        assert.ok(Math.min(...writes.map((w) => w.ms)) >= 90, 'each waited its 100 ms');
        assert.deepEqual([...new Set(reads.map((x) => x.r.status))], [200]);
        const readMax = Math.max(...reads.map((x) => x.ms));
        console.log(`# replica stopped: 20 concurrent writes 503 in <= ${slowest.toFixed(1)} ms; 20 reads meanwhile, slowest ${readMax.toFixed(1)} ms`);
        // a read stuck behind a blocked WAIT would take the 100 ms timeout at least (up to 200 ms: Redis' hz tick)
        const readMedian = reads.map((x) => x.ms).sort((a, b) => a - b)[reads.length >> 1];
        assert.ok(readMedian < 80, `reads do not wait behind a WAIT (median ${readMedian.toFixed(1)} ms, slowest ${readMax.toFixed(1)} ms)`);
        assert.equal(await t.clients.primary.get('stop:7'), '7', 'the writes are on the primary');
        await t.replicas[0].kill('SIGCONT');
        let ok = false;
        for (let i = 0; i < 50 && !ok; i++) {
            ok = (await post(k, '', ['SET', 'stop:after', 'x'])).status === 200;
            if (!ok) await sleep(100);
        }
        assert.ok(ok, 'writes are acknowledged again once the replica runs');
        await waitFor(() => /replicas acknowledge writes again/.test(k.stderr()), { timeoutMs: 5000, message: 'the log says they confirm again' });
    } finally {
        await t.replicas[0].kill('SIGCONT').catch(() => {});
        assertCleanExit(await k.stop());
        await t.stop();
    }
});

// The cache's purges wait too: a purge lost in a failover would bring the purged objects back (a purge can be repeated)
test('issue 12 scale-out: min_replicas_ack: a cache purge is answered 200 once the replica has it, 503 while it is stopped', T, async () => {
    const t = await startReplicas({ replicas: 1 });
    const origin = await startUpstream((req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=300', 'content-length': 2 });
        res.end('ok');
    });
    const admin = 'admin-token-0123456789';
    const k = await startKvedge({
        ...ackConfig(t),
        admin: { token: admin },
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: {} }],
    });
    const purge = () => http('POST', `${k.adminUrl}purge?url=${encodeURIComponent(`${k.url}/api/obj`)}`, { headers: { authorization: `Bearer ${admin}` } });
    const cached = () => waitFor(async () => /hit/.test((await http('GET', `${k.url}/api/obj`)).headers['cache-status'] ?? ''),
        { timeoutMs: 5000, message: '/api/obj stored' });
    try {
        await cached();
        const ok = await purge();
        assert.equal(ok.status, 200, ok.body);
        assert.equal(JSON.parse(ok.body).purged, 1);
        await cached();
        await t.replicas[0].kill('SIGSTOP');
        const { r, ms } = await timed(purge);
        assert.equal(r.status, 503, r.body);
        assert.match(JSON.parse(r.body).error, /write not acknowledged/);
        assert.ok(ms >= 90 && ms < 1500, `after the timeout (${ms.toFixed(1)} ms)`);
        await t.replicas[0].kill('SIGCONT');
        await waitFor(async () => (await purge()).status === 200, { timeoutMs: 5000, message: 'the purge, sent again, is acknowledged' });
    } finally {
        await t.replicas[0].kill('SIGCONT').catch(() => {});
        assertCleanExit(await k.stop());
        await origin.stop();
        await t.stop();
    }
});

test('issue 12 scale-out: min_replicas_ack: partition (netns + tc) then failover to the replica: 0 acknowledged writes lost with min_replicas_ack: 1, some lost without', T, async (t) => {
    const result = runInNetns(t, 'wait_partition_child.mjs');
    if (result === null)
        return;
    const { withAck, without } = result;
    for (const r of [withAck, without])
        console.log(`# ${r.ack ? 'min_replicas_ack: 1' : 'without it'}: ${r.acked} writes answered 200 (${r.beforeCut} before the cut), ` +
            `statuses ${JSON.stringify(r.statuses)}, ${r.lost} of them lost after the failover`);
    assert.ok(withAck.beforeCut > 50 && without.beforeCut > 50, 'writes were acknowledged before the cut');
    assert.ok((withAck.statuses['503'] ?? 0) > 0, 'with the option, writes during the partition answered 503');
    assert.equal(withAck.lost, 0, 'with min_replicas_ack: 1, no acknowledged write is lost');
    assert.ok(without.lost > 0, 'without it, writes acknowledged during the partition are lost');
    for (const r of [withAck, without]) {
        assert.equal(r.exit.code, 0, `kvedge exited cleanly: ${r.exit.stderr}`);
        if (SANITIZE) assert.doesNotMatch(r.exit.stderr, /Sanitizer|runtime error/);
    }
});

// A sentinel store: each generation's primary link waits for its own replicas; the primary killed with -9 under write
// load, Sentinel promotes a replica: every write kvedge answered 200, before and after the failover, is on the new primary.
test('issue 12 scale-out: min_replicas_ack: sentinel store, the primary killed with -9 under write load: every acknowledged write is on the promoted primary', T, async () => {
    const t = await startSentinels();
    let k;
    try {
        k = await startKvedge(kvConfig({ sentinel: { master: t.master, addresses: t.sentinelAddresses }, command_timeout: '1s', min_replicas_ack: 1 },
            {}, { threads: 2 }));
        await waitFor(async () => (await post(k, '', ['SET', 'warm', '1'])).status === 200, { message: 'kvedge writes through the sentinel store' });
        const acked = [], statuses = {};
        let stop = false;
        const writers = Array.from({ length: 8 }, async (_, c) => {
            for (let i = 0; !stop; i++) {
                const r = await post(k, '', ['SET', `sw:${c}:${i}`, String(i)]);
                statuses[r.status] = (statuses[r.status] ?? 0) + 1;
                if (r.status === 200) acked.push(`sw:${c}:${i}`);
                else if (r.status !== 503) throw new Error(`unexpected ${r.status} ${r.body}`);
                else await sleep(20);
            }
        });
        await sleep(1000);
        const oldPort = t.primary.port, before = acked.length;
        await t.primary.kill('SIGKILL');
        const sc = t.sentinels[0].client();
        let newPort = oldPort;
        await waitFor(async () => {
            newPort = Number((await sc.call('SENTINEL', 'get-master-addr-by-name', t.master))[1]);
            return newPort !== oldPort;
        }, { timeoutMs: 30_000, intervalMs: 100, message: 'the sentinels promote a replica' });
        sc.disconnect();
        const afterSwitch = acked.length;
        await waitFor(() => acked.length > afterSwitch + 50, { timeoutMs: 30_000, message: 'writes acknowledged on the new primary' });
        stop = true;
        await Promise.all(writers);
        const promoted = t.replicas.find((r) => r.port === newPort).client();
        let lost = 0;
        for (let i = 0; i < acked.length; i += 500) lost += (await promoted.mget(...acked.slice(i, i + 500))).filter((v) => v === null).length;
        console.log(`# sentinel: ${acked.length} writes answered 200 (${before} before the kill), statuses ${JSON.stringify(statuses)}, ${lost} lost`);
        assert.ok(before > 20, 'writes were acknowledged before the failover');
        assert.equal(lost, 0, 'no acknowledged write is lost');
    } finally {
        if (k?.running) assertCleanExit(await k.stop());
        await t.stop();
    }
});
