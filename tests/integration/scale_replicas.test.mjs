// Issue 12 (scale-out), the replicas topology: a store with a primary and static replicas (`replicas:`). Reads go to
// a replica, round robin, when ROLE (written in front of them) shows it linked to its primary and at the request's
// upstash-sync-token; otherwise to the primary. Real redis-servers on loopback (tests/integration/topology.mjs), a
// real kvedge; every kvedge must exit cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from '@upstash/redis';
import { assertCleanExit, freePort, http, makeTempDir, SANITIZE, runKvedge, sleep, startKvedge, startRedis, waitFor, writeConfig } from './harness.mjs';
import { kvConfig, openStream, RO_TOKEN, RW_TOKEN } from './kv_helpers.mjs';
import { client, diff, nodeMetrics, writeReadPairs } from './replicas_helpers.mjs';
import { makeCerts } from './httpclient_helpers.mjs';
import { commandCalls, runInNetns, startReplicas, waitCaughtUp, waitLinked, waitOnline } from './topology.mjs';

const T = { timeout: 120_000 };

function replicasConfig(t, extra = {}) {
    return kvConfig({ url: t.url, replicas: t.replicaUrls, command_timeout: '2s' }, {}, { threads: 2, ...extra });
}

test('issue 12 scale-out: replicas: kvedge -t checks the replicas of a store', T, async () => {
    const dir = makeTempDir();
    const check = (redis, name) => runKvedge(['-t', '-c', writeConfig(kvConfig(redis, {}, { listen: [{ host: '127.0.0.1', port: 1 }] }), { dir, name })]);
    const bad = [
        [{ url: 'embedded', replicas: ['redis://127.0.0.1:7001'] }, /replicas: only a store on an external Redis/],
        [{ url: 'https://kv.example.com', token: 'x'.repeat(32), replicas: ['redis://127.0.0.1:7001'] }, /replicas: only a store on an external Redis/],
        [{ url: 'redis://127.0.0.1:7000', replicas: ['http://127.0.0.1:7001'] }, /replicas\[0\]: a replica is a redis:\/\/, rediss:\/\/ or unix:\/\/ url/],
        [{ url: 'redis://127.0.0.1:7000', replicas: ['rediss://127.0.0.1:7001'] }, /replicas\[0\]: rediss:\/\/, and the primary's url is not rediss:\/\/ \(every node speaks TLS, or none\)/],
        [{ url: 'rediss://127.0.0.1:7000', replicas: ['redis://127.0.0.1:7001'] }, /replicas\[0\]: not rediss:\/\/, and the primary's url is rediss:\/\//],
        [{ url: 'redis://127.0.0.1:7000', replicas: ['redis://127.0.0.1:7001', 'redis://127.0.0.1:7000'] }, /replicas\[1\]: redis:\/\/127.0.0.1:7000 is the primary itself/],
        [{ url: 'redis://127.0.0.1:7000', replicas: ['redis://127.0.0.1:7001', 'redis://127.0.0.1:7001/0'] }, /replicas\[1\]: the same server as replicas\[0\]/],
        [{ url: 'redis://127.0.0.1:7000/2', replicas: ['redis://127.0.0.1:7001'] }, /replicas\[0\]: database 0, but the primary's url names database 2/],
        [{ url: 'redis://127.0.0.1:7000', replicas: ['redis://127.0.0.1:notaport'] }, /replicas\[0\]: /],
        [{ url: 'redis://127.0.0.1:7000', replicas: Array.from({ length: 17 }, (_, i) => `redis://127.0.0.1:${7001 + i}`) }, /replicas/],
    ];
    for (const [i, [redis, re]] of bad.entries()) {
        const r = await check(redis, `bad${i}.yaml`);
        assert.notEqual(r.code, 0, `${JSON.stringify(redis)} is refused`);
        assert.match(r.stderr, re, JSON.stringify(redis));
    }
    const ok = await check({ url: 'redis://127.0.0.1:7000/3', replicas: ['redis://127.0.0.1:7001/3', 'unix:///tmp/replica.sock?db=3'] }, 'ok.yaml');
    assert.equal(ok.code, 0, ok.stderr);
    const tls = await check({ url: 'rediss://127.0.0.1:7000/3', replicas: ['rediss://127.0.0.1:7001/3'] }, 'tls.yaml');
    assert.equal(tls.code, 0, tls.stderr);
    const help = await runKvedge(['--help-config']);
    assert.match(help.stdout, /replicas/, '--help-config documents replicas');
});

// A write's token is its own replication offset (the primary's link reads it with a ROLE of its own after the write,
// kv_sync.h), on any number of threads, so a replica that has the write has the token. (Tokens used to strictly
// increase across the process: with two threads a write finishing with another thread's got a token above its own
// offset, and 81-98 % of the reads came from the replicas; now 99.7-99.98 %, as with one.) The reads a replica cannot
// serve are its lag: on this shared 2-core machine a replica is now and then a few hundred bytes behind when the
// read comes (0.1-3 % of the reads with 8 clients, up to 10 % with 16).
for (const [threads, clients, share] of [[1, 8, 0.9], [2, 16, 0.9]]) {
    test(`issue 12 scale-out: replicas: 10,000 write->read pairs with sync tokens from ${clients} clients, ${threads} thread${threads > 1 ? 's' : ''}: 0 stale reads, >= ${share * 100} % read from a replica`, T, async () => {
        const t = await startReplicas({ replicas: 2 });
        const k = await startKvedge(replicasConfig(t, { threads }));
        try {
            const before = await nodeMetrics(k);
            const getsBefore = await commandCalls(t.clients.primary, 'get');
            const res = await writeReadPairs(k, { clients, pairs: 10_000 / clients });
            assert.equal(res.reads, 10_000);
            assert.equal(res.errors, 0, 'no request failed');
            assert.equal(res.stale, 0, 'no read missed the write before it');
            const d = diff(await nodeMetrics(k), before);
            const replicaReads = d.replicas.reduce((a, b) => a + b, 0);
            assert.equal(replicaReads + d.primary, 10_000, `every read counted once: ${JSON.stringify(d)}`);
            console.log(`# ${threads} thread(s), 10,000 token reads: ${replicaReads} from replicas (${d.replicas.join(' / ')}), ` +
                `${d.primary} from the primary; fallbacks ${d.fallbacks.join(' / ')}`);
            assert.ok(replicaReads >= share * 10_000, `>= ${share * 100} % of the token reads from a replica: ${JSON.stringify(d)}`);
            // Redis' own count agrees: the primary ran the GETs the metrics give it, no more
            assert.equal((await commandCalls(t.clients.primary, 'get')) - getsBefore, d.primary, 'GETs on the primary (INFO commandstats)');
            const replicaGets = await Promise.all(t.clients.replicas.map((c) => commandCalls(c, 'get')));
            assert.ok(replicaGets.every((n, i) => n >= d.replicas[i]), `each replica ran at least the GETs it answered: ${replicaGets}`);
        } finally {
            assertCleanExit(await k.stop());
            await t.stop();
        }
    });
}

test('issue 12 scale-out: replicas: a replica behind the token (its stream paused, still linked) is not read; the primary answers', T, async () => {
    const t = await startReplicas({ replicas: 1 });
    const k = await startKvedge(replicasConfig(t, { threads: 1 }));
    const cl = client(k);
    try {
        assert.equal((await cl.send(['SET', 'lag', 'old'])).status, 200);
        // the replica has it and serves it
        for (;;) if ((await t.clients.replicas[0].get('lag')) === 'old') break;
        const before = await nodeMetrics(k);
        assert.equal(JSON.parse((await cl.send(['GET', 'lag'])).body).result, 'old');
        let d = diff(await nodeMetrics(k), before);
        assert.deepEqual([d.replicas[0], d.primary], [1, 0], 'an up-to-date replica serves the token read');
        // CLIENT PAUSE WRITE on the replica stops it applying its primary's stream; it answers ROLE and reads
        await t.clients.replicas[0].call('CLIENT', 'PAUSE', '3000', 'WRITE');
        assert.equal((await cl.send(['SET', 'lag', 'new'])).status, 200);
        assert.equal(await t.clients.replicas[0].get('lag'), 'old', 'the replica is behind (a read there would be stale)');
        const role = await t.clients.replicas[0].call('ROLE');
        assert.equal(role[3], 'connected', 'and still says it is linked');
        for (let i = 0; i < 20; i++) assert.equal(JSON.parse((await cl.send(['GET', 'lag'])).body).result, 'new', `read ${i}`);
        d = diff(await nodeMetrics(k), before);
        assert.deepEqual([d.replicas[0], d.primary, d.fallbacks[0]], [1, 20, 20], 'the primary answered, after ROLE from the replica');
        // a read without a token names no position: the primary answers it (as the cache's and the sessions' lookups,
        // which must see the writes before them: a purge, a logout)
        const noToken = await cl.send(['GET', 'lag'], { withToken: false });
        assert.equal(JSON.parse(noToken.body).result, 'new', 'a read without a token is the primary\'s');
        d = diff(await nodeMetrics(k), before);
        assert.deepEqual([d.replicas[0], d.primary, d.fallbacks[0]], [1, 21, 20], 'straight to the primary, no probe');
        await t.clients.replicas[0].call('CLIENT', 'UNPAUSE');
        for (;;) if ((await t.clients.replicas[0].get('lag')) === 'new') break;
        const b2 = await nodeMetrics(k);
        assert.equal(JSON.parse((await cl.send(['GET', 'lag'])).body).result, 'new');
        assert.equal(diff(await nodeMetrics(k), b2).replicas[0], 1, 'caught up: the replica serves token reads again');
    } finally {
        cl.close();
        await t.clients.replicas[0].call('CLIENT', 'UNPAUSE').catch(() => {});
        assertCleanExit(await k.stop());
        await t.stop();
    }
});

test('issue 12 scale-out: replicas: @upstash/redis read-your-writes (its default) against a primary and two replicas', T, async () => {
    const t = await startReplicas({ replicas: 2 });
    const k = await startKvedge(replicasConfig(t, { threads: 1 })); // tokens are offsets (see the 10,000 pairs above)
    try {
        const before = await nodeMetrics(k);
        let stale = 0, reads = 0;
        const clients = [{}, { enableAutoPipelining: false }, { responseEncoding: false }].map((o) =>
            new Redis({ url: `${k.url}/kv`, token: RW_TOKEN, retry: false, ...o }));
        assert.ok(clients.every((c) => c.client.readYourWrites === true), 'readYourWrites is on by default');
        await Promise.all(clients.map(async (c, ci) => {
            for (let i = 0; i < 200; i++) {
                await c.set(`sdk:${ci}`, i);
                await c.incr(`sdk:n:${ci}`);
                const [v, n] = await Promise.all([c.get(`sdk:${ci}`), c.get(`sdk:n:${ci}`)]); // one pipeline when auto-pipelining
                reads += 2;
                if (v !== i || n !== i + 1) stale++;
            }
            assert.match(c.readYourWritesSyncToken, /^\d+$/, 'the SDK holds kvedge\'s token');
        }));
        assert.equal(stale, 0, 'the SDK read its own writes every time');
        const d = diff(await nodeMetrics(k), before);
        const replicaReads = d.replicas.reduce((a, b) => a + b, 0);
        assert.equal(replicaReads + d.primary, reads, JSON.stringify(d));
        assert.ok(replicaReads >= 0.9 * reads, `>= 90 % of the SDK's reads from a replica: ${JSON.stringify(d)}`);
    } finally {
        assertCleanExit(await k.stop());
        await t.stop();
    }
});

test('issue 12 scale-out: replicas: reads spread over three replicas within 20 % of their mean, the primary <= 5 %; a reload keeps them there', T, async () => {
    const t = await startReplicas({ replicas: 3 });
    const k = await startKvedge(replicasConfig(t));
    try {
        const seed = client(k);
        assert.equal((await seed.send(['MSET', 's:1', 'a', 's:2', 'b'])).status, 200);
        seed.close();
        const before = await nodeMetrics(k);
        await Promise.all(Array.from({ length: 8 }, async (_, c) => {
            const cl = client(k);
            try {
                for (let i = 0; i < 750; i++) {
                    const r = await cl.send(i % 2 ? ['GET', 's:1'] : ['MGET', 's:1', 's:2']); // the first has no token yet
                    assert.equal(r.status, 200);
                }
            } finally {
                cl.close();
            }
        }));
        const d = diff(await nodeMetrics(k), before);
        const total = d.primary + d.replicas.reduce((a, b) => a + b, 0);
        assert.equal(total, 6000, JSON.stringify(d));
        const mean = (total - d.primary) / 3;
        for (const n of d.replicas) assert.ok(Math.abs(n - mean) <= 0.2 * mean, `replica reads ${d.replicas} within 20 % of ${mean}`);
        assert.ok(d.primary <= 0.05 * total, `primary ${d.primary} of ${total}`);
        // the replicas' own counts (INFO commandstats) agree
        const calls = await Promise.all(t.clients.replicas.map(async (c) => (await commandCalls(c, 'get')) + (await commandCalls(c, 'mget'))));
        assert.ok(calls.every((n, i) => n >= d.replicas[i]), `commandstats ${calls} vs metrics ${d.replicas}`);
        console.log(`# 6,000 reads: replicas ${d.replicas.join(' / ')}, primary ${d.primary}`);
        // a reload (SIGHUP) under load builds the links again: reads keep going to the replicas, no error
        const reloaded = k.stderr().match(/reload: configuration \d+ serving/g)?.length ?? 0;
        const during = writeReadPairs(k, { clients: 4, pairs: 200, prefix: 'hup' });
        process.kill(k.pid, 'SIGHUP');
        const res = await during;
        assert.deepEqual([res.errors, res.stale], [0, 0], 'no error, no stale read across the reload');
        await waitFor(() => (k.stderr().match(/reload: configuration \d+ serving/g)?.length ?? 0) > reloaded, { message: 'the reload in the log' });
        const b2 = await nodeMetrics(k);
        await writeReadPairs(k, { clients: 4, pairs: 50, prefix: 'hup2' });
        const d2 = diff(await nodeMetrics(k), b2);
        assert.ok(d2.replicas.reduce((a, b) => a + b, 0) >= 150, `the new generation reads from the replicas: ${JSON.stringify(d2)}`);
    } finally {
        assertCleanExit(await k.stop());
        await t.stop();
    }
});

test('issue 12 scale-out: replicas: a replica killed with -9 under load: reads go on from the other and the primary, no 5xx, 0 stale', T, async () => {
    const t = await startReplicas({ replicas: 2 });
    const k = await startKvedge(replicasConfig(t));
    try {
        const bad = [];
        const before = await nodeMetrics(k);
        const load = writeReadPairs(k, { clients: 8, pairs: 1e9, prefix: 'kill', deadline: Date.now() + 4000, onError: (r) => bad.push(`${r.status} ${r.body}`) });
        await sleep(1000);
        await t.replicas[0].kill('SIGKILL');
        const killedAt = await nodeMetrics(k);
        const res = await load;
        const after = await nodeMetrics(k);
        assert.deepEqual(bad, [], 'no request failed');
        assert.equal(res.errors, 0);
        assert.equal(res.stale, 0, 'no stale read');
        const d = diff(after, killedAt);
        assert.ok(d.replicas[1] > 0, `the live replica served reads after the kill: ${JSON.stringify(d)}`);
        assert.ok(d.replicas[0] <= 16, `the dead replica served nothing after the kill (at most the reads in flight): ${JSON.stringify(d)}`);
        assert.equal(after.replicas[0].up, 0, 'its links are down');
        console.log(`# ${res.reads} reads; after the kill: replicas ${d.replicas.join(' / ')}, primary ${d.primary}; before: ${JSON.stringify(diff(killedAt, before))}`);
    } finally {
        assertCleanExit(await k.stop());
        await t.stop();
    }
});

test('issue 12 scale-out: replicas: a replica that hangs (SIGSTOP) under load: its reads go to the primary after half the timeout, no 5xx, 0 stale', T, async () => {
    const t = await startReplicas({ replicas: 2 });
    const k = await startKvedge(replicasConfig(t)); // command_timeout 2s: a probe gives up after 1 s
    try {
        const bad = [];
        const load = writeReadPairs(k, { clients: 8, pairs: 1e9, prefix: 'hang', deadline: Date.now() + 6000, onError: (r) => bad.push(`${r.status} ${r.body}`) });
        await sleep(1000);
        await t.replicas[0].kill('SIGSTOP');
        const stoppedAt = await nodeMetrics(k);
        await sleep(4000);
        const stopped = diff(await nodeMetrics(k), stoppedAt);
        await t.replicas[0].kill('SIGCONT');
        const res = await load;
        assert.deepEqual(bad, [], 'no request failed');
        assert.equal(res.stale, 0, 'no stale read');
        assert.ok(stopped.replicas[0] <= 16, `the hung replica answered nothing (at most what was in flight): ${JSON.stringify(stopped)}`);
        assert.ok(stopped.fallbacks[0] > 0 && stopped.replicas[1] > 0, `its reads went elsewhere: ${JSON.stringify(stopped)}`);
        assert.match(k.stderr(), new RegExp(`replica ${t.replicas[0].url.replace('redis://', '')} skipped: no answer to ROLE`));
        console.log(`# ${res.reads} reads; while it hung: replicas ${stopped.replicas.join(' / ')}, primary ${stopped.primary}, fallbacks ${stopped.fallbacks.join(' / ')}`);
    } finally {
        await t.replicas[0].kill('SIGCONT').catch(() => {});
        assertCleanExit(await k.stop());
        await t.stop();
    }
});

test('issue 12 scale-out: replicas: a replica restarted (empty, waiting for its full sync) is skipped until it is linked', T, async () => {
    const t = await startReplicas({ replicas: 2 });
    const k = await startKvedge(replicasConfig(t));
    try {
        // the restarted replica's full sync waits 2 s for the primary to start it: it answers PING and ROLE ("sync")
        // meanwhile, empty, and a read it served would be stale
        await t.clients.primary.config('SET', 'repl-diskless-sync-delay', '2');
        const bad = [];
        const before = await nodeMetrics(k);
        const load = writeReadPairs(k, { clients: 8, pairs: 1e9, prefix: 'restart', deadline: Date.now() + 5000, onError: (r) => bad.push(`${r.status} ${r.body}`) });
        await sleep(500);
        // watch the replica while it restarts: down, then syncing or loading, then linked
        const seen = new Set();
        let watching = true;
        const watcher = (async () => {
            const c = t.replicas[0].client({ maxRetriesPerRequest: 0, retryStrategy: () => 20, enableReadyCheck: false, enableOfflineQueue: false });
            while (watching) {
                try {
                    const info = await c.info('replication');
                    if (/master_sync_in_progress:1/.test(info)) seen.add('sync');
                    else if (/master_link_status:down/.test(info)) seen.add('link down');
                } catch (e) {
                    seen.add(/LOADING/.test(e.message) ? 'loading' : 'down');
                }
                await sleep(10);
            }
        })();
        // without the RDB of its first sync (diskless load is off: the replica kept one) it comes back empty and needs a
        // full sync (with it, it would load it and resync partially within ~100 ms)
        await t.replicas[0].kill('SIGKILL');
        fs.rmSync(path.join(t.replicas[0].dir, 'dump.rdb'), { force: true });
        await t.replicas[0].restart();
        await t.relink(0);
        watching = false;
        await watcher;
        const res = await load;
        assert.deepEqual(bad, [], 'no request failed');
        assert.equal(res.stale, 0, 'no stale read (an empty, syncing replica would have answered nil)');
        const d = diff(await nodeMetrics(k), before);
        // kvedge asked it (ROLE) and heard it was not linked yet, or loading: it said so once, and skipped it
        const skipped = new RegExp(`replica ${t.replicas[0].url.replace('redis://', '')} skipped: (not linked to its primary|loading|no answer to ROLE|ROLE failed)`);
        assert.match(k.stderr(), skipped, `kvedge skipped the replica while it synced (the test saw: ${[...seen]})`);
        assert.ok(d.fallbacks[0] > 0 || d.replicas[0] < d.replicas[1] / 2, `the restarted replica was skipped for a while: ${JSON.stringify(d)}`);
        const b2 = await nodeMetrics(k);
        await writeReadPairs(k, { clients: 4, pairs: 50, prefix: 'restart2' });
        assert.ok(diff(await nodeMetrics(k), b2).replicas[0] > 0, 'once linked again it serves reads');
        console.log(`# ${res.reads} reads around the restart: replicas ${d.replicas.join(' / ')}, primary ${d.primary}, fallbacks ${d.fallbacks.join(' / ')}`);
    } finally {
        assertCleanExit(await k.stop());
        await t.stop();
    }
});

test('issue 12 scale-out: replicas: ACL users from `kvedge acl` on every node: read-only tokens read from the replicas, and still cannot write', T, async () => {
    const t = await startReplicas({ replicas: 2 });
    const redis = { url: t.url, replicas: t.replicaUrls, username: 'kvedge-rw', password: 'rw-pass-0123456789', read_only_username: 'kvedge-ro', read_only_password: 'ro-pass-0123456789' };
    const dir = makeTempDir();
    const acl = await runKvedge(['acl', '-c', writeConfig(kvConfig(redis, {}, { listen: [{ host: '127.0.0.1', port: 1 }] }), { dir })]);
    assert.equal(acl.code, 0, acl.stderr);
    const users = acl.stdout.split('\n').filter((l) => l.startsWith('ACL SETUSER '));
    assert.equal(users.length, 2);
    // Redis does not replicate ACL rules: every node gets them
    for (const c of [t.clients.primary, ...t.clients.replicas])
        for (const line of users) {
            const words = line.split(' ').slice(1).map((w) => (w === '><password>' ? `>${/SETUSER kvedge-ro/.test(line) ? redis.read_only_password : redis.password}` : w));
            await c.call('ACL', ...words);
        }
    const k = await startKvedge(kvConfig({ ...redis, command_timeout: '2s' }, {}, { threads: 1 }));
    try {
        const rw = client(k);
        assert.equal((await rw.send(['SET', 'acl:k', 'v1'])).status, 200);
        const token = rw.token;
        rw.close();
        const before = await nodeMetrics(k);
        const ro = (cmd) => http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RO_TOKEN}`, 'upstash-sync-token': token }, body: JSON.stringify(cmd) });
        for (let i = 0; i < 20; i++) assert.deepEqual(JSON.parse((await ro(['GET', 'acl:k'])).body), { result: 'v1' });
        const d = diff(await nodeMetrics(k), before);
        assert.equal(d.replicas.reduce((a, b) => a + b, 0), 20, `the replicas served the read-only token's reads: ${JSON.stringify(d)}`);
        const w = await ro(['SET', 'acl:k', 'x']);
        assert.equal(w.status, 400);
        assert.match(JSON.parse(w.body).error, /^NOPERM/);
        assert.equal(await t.clients.primary.get('acl:k'), 'v1');
        // the read-only user cannot write on a replica either (a replica refuses writes anyway: READONLY)
        const direct = t.replicas[0].client({ username: 'kvedge-ro', password: redis.read_only_password });
        await assert.rejects(direct.set('acl:k', 'x'), /NOPERM|READONLY/);
        assert.doesNotMatch(k.stderr(), /skipped: ROLE failed/);
    } finally {
        assertCleanExit(await k.stop());
        await t.stop();
    }
});

test('issue 12 scale-out: replicas: writes, transactions, scripts, subscriptions and reads without replicas up stay on the primary', T, async () => {
    const primary = await startRedis();
    // two replicas that never run: their links stay down, every read goes to the primary
    const k = await startKvedge(kvConfig({ url: primary.url, replicas: ['redis://127.0.0.1:1', 'redis://127.0.0.1:2'] }, {}, { threads: 1 }));
    try {
        const cl = client(k);
        assert.equal((await cl.send(['SET', 'p', '1'])).status, 200);
        assert.equal(JSON.parse((await cl.send(['GET', 'p'])).body).result, '1');
        const tx = await http('POST', `${k.url}/kv/multi-exec`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify([['INCR', 'p'], ['GET', 'p']]) });
        assert.deepEqual(JSON.parse(tx.body), [{ result: 2 }, { result: '2' }]);
        const ev = await cl.send(['EVAL_RO', 'return redis.call("GET", KEYS[1])', '1', 'p']);
        assert.equal(JSON.parse(ev.body).result, '2');
        const m = await nodeMetrics(k);
        assert.equal(m.replicaReads, 0);
        assert.ok(m.replicas.every((r) => r.up === 0));
        // a subscription is the primary's too
        const sub = await openStream(`${k.url}/kv/subscribe/rch`);
        try {
            assert.equal(sub.status, 200);
            await sub.waitData('subscribe,rch,1');
            assert.deepEqual(JSON.parse((await cl.send(['PUBLISH', 'rch', 'hi'])).body), { result: 1 });
            await sub.waitData('message,rch,hi');
        } finally {
            sub.close();
        }
        cl.close();
    } finally {
        assertCleanExit(await k.stop());
        await primary.stop();
    }
});

// The replication link throttled (tc in a network namespace of the child's own, everything on its loopback): the
// replicas fall seconds behind under the write load, and every token read they cannot serve goes to the primary.
test('issue 12 scale-out: replicas: 10,000 write->read pairs with the replication link throttled (netns + tc): 0 stale reads', T, async (t) => {
    const r = runInNetns(t, 'replicas_throttled_child.mjs');
    if (r === null)
        return;
    console.log(`# throttled: ${r.reads} token reads, ${r.stale} stale; replicas ${r.replicas.join(' / ')}, primary ${r.primary}, ` +
        `fallbacks ${r.fallbacks.join(' / ')}; replicas behind by ${r.lag.join(' / ')} bytes at the end; ${r.throttledBytes} bytes through the throttle`);
    assert.equal(r.reads, 10_000);
    assert.equal(r.errors, 0, 'no request failed');
    assert.equal(r.stale, 0, 'no read missed the write before it');
    assert.ok(r.throttledBytes > 100_000, 'the replication stream went through the throttle');
    assert.ok(r.fallbacks.reduce((a, b) => a + b, 0) > 100, `the replicas were behind: reads went to the primary (${JSON.stringify(r)})`);
    assert.equal(r.replicas.reduce((a, b) => a + b, 0) + r.primary, 10_000);
    assert.equal(r.exit.code, 0, `kvedge exited cleanly: ${r.exit.stderr}`);
    if (SANITIZE) assert.doesNotMatch(r.exit.stderr, /Sanitizer|runtime error/);
});

// rediss://: every node over TLS, verified against a CA made in the test (the replication link itself is Redis' own
// business: here over its plain port)
test('issue 12 scale-out: replicas: rediss:// primary and replica: token reads from the replica over TLS, 0 stale', T, async () => {
    const certs = makeCerts();
    const leaf = certs.leaf({ dns: ['localhost'], ip: ['127.0.0.1'] });
    const tlsArgs = (port) => ['--tls-port', String(port), '--tls-cert-file', leaf.cert, '--tls-key-file', leaf.key,
        '--tls-ca-cert-file', certs.ca.cert, '--tls-auth-clients', 'no', '--repl-diskless-sync-delay', '0'];
    const [pTls, rTls] = [await freePort(), await freePort()];
    const primary = await startRedis({ args: tlsArgs(pTls) });
    let replica, k;
    try {
        replica = await startRedis({ args: [...tlsArgs(rTls), '--replicaof', '127.0.0.1', String(primary.port)] });
        const clients = { primary: primary.client(), replicas: [replica.client()] };
        await waitLinked(clients.replicas[0]);
        await waitOnline(clients.primary, 1);
        await waitCaughtUp(clients);
        k = await startKvedge(kvConfig({ url: `rediss://127.0.0.1:${pTls}`, replicas: [`rediss://127.0.0.1:${rTls}`], ca_file: certs.ca.cert },
            {}, { threads: 1 }));
        const before = await nodeMetrics(k);
        const res = await writeReadPairs(k, { clients: 4, pairs: 250, prefix: 'tls' });
        const d = diff(await nodeMetrics(k), before);
        assert.deepEqual([res.errors, res.stale], [0, 0], 'no error, no stale read');
        assert.ok(d.replicas[0] >= 0.8 * res.reads, `the replica served the token reads over TLS: ${JSON.stringify(d)}`);
        assert.ok((await commandCalls(clients.replicas[0], 'role')) > 0, 'ROLE reached the replica');
    } finally {
        if (k) assertCleanExit(await k.stop());
        await replica?.stop();
        await primary.stop();
    }
});
