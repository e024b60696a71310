// The KV link under failure: Redis restarted under load (fail fast while down, reconnect within 2 s,
// no 5xx once reconnected), Redis SIGSTOPped (commands time out cleanly, nothing hangs), replies hiredis
// cannot parse (a fake Redis sending garbage or a huge array length, a real reply nested too deep), and
// the embedded redis-server (started, restarted within 2 s after kill -9 without losing acknowledged
// writes, stopped with kvedge).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import httpMod from 'node:http';
import path from 'node:path';
import Redis from 'ioredis';
import { startFakeRedis } from './fake_redis.mjs';
import { assertCleanExit, http, makeTempDir, sleep, startKvedge, startRedis, stopKvedgeThen, waitFor } from './harness.mjs';

// Hammers GET /readyz with `concurrency` keep-alive loops until stop() is called; returns every sample.
function load(url, concurrency = 8) {
    const agent = new httpMod.Agent({ keepAlive: true, maxSockets: concurrency });
    const samples = [];
    let running = true;
    const loops = Array.from({ length: concurrency }, async () => {
        while (running) {
            const t0 = Date.now();
            try {
                const r = await http('GET', `${url}/readyz`, { agent, timeoutMs: 10000 });
                samples.push({ t: Date.now(), status: r.status, ms: Date.now() - t0 });
            } catch (e) {
                samples.push({ t: Date.now(), status: 0, ms: Date.now() - t0, error: String(e) });
            }
        }
    });
    return {
        samples,
        async stop() {
            running = false;
            await Promise.all(loops);
            agent.destroy();
            return samples;
        },
    };
}

function metric(body, name) {
    const m = new RegExp(`^${name}(?:\\{store="default"\\})? (\\d+)$`, 'm').exec(body);
    return m ? Number(m[1]) : NaN;
}

test('Redis restarted under load: fail fast while down, reconnect within 2 s, no 5xx after', async () => {
    const redis = await startRedis();
    const k = await startKvedge({ redis: redis.url, threads: 2 }, { waitReady: true });
    try {
        const l = load(k.url);
        await sleep(500);
        const downAt = Date.now(); // before the stop: samples taken while it runs already count as "down"
        await redis.stop();
        await sleep(700);
        const restartAt = Date.now();
        await redis.restart();
        const upAt = Date.now();
        await sleep(3000);
        const samples = await l.stop();

        const before = samples.filter((s) => s.t < downAt - 50);
        assert.ok(before.length > 20 && before.every((s) => s.status === 200), 'all 200 before the outage');
        const during = samples.filter((s) => s.t > downAt + 200 && s.t < restartAt);
        assert.ok(during.length > 0, 'requests were made during the outage');
        const wrong = during.filter((s) => s.status !== 503);
        assert.deepEqual(wrong, [], '503 while Redis is down');
        assert.ok(Math.max(...during.map((s) => s.ms)) < 1500, 'failing fast, not hanging');
        const firstOk = samples.find((s) => s.t > upAt && s.status === 200);
        assert.ok(firstOk && firstOk.t - upAt < 2000, `reconnected within 2 s (first 200 after ${firstOk && firstOk.t - upAt} ms)`);
        const settled = samples.filter((s) => s.t > upAt + 2000);
        assert.ok(settled.length > 20, 'load continued after the restart');
        assert.deepEqual([...new Set(settled.map((s) => s.status))], [200], 'no 5xx after reconnecting');
        assert.ok(samples.every((s) => s.status !== 0), 'no connection errors from kvedge itself');

        const m = (await http('GET', `${k.url}/metrics`)).body;
        assert.ok(metric(m, 'kvedge_kv_reconnects_total') >= 2, 'both threads reconnected');
        assert.match(k.stderr(), /\[warn\] redis: link to 127\.0\.0\.1:\d+ is down/);
        assert.match(k.stderr(), /\[info\] redis: link to 127\.0\.0\.1:\d+ is up/);
    } finally {
        await stopKvedgeThen(k, redis);
    }
});

test('Redis SIGSTOPped: readiness times out cleanly, nothing hangs, recovery after SIGCONT', async () => {
    const redis = await startRedis();
    const k = await startKvedge({ redis: { url: redis.url, command_timeout: '400ms', breaker_threshold: 3 }, threads: 2,
        admin: { ready_timeout: '400ms' } }, { waitReady: true });
    try {
        await redis.kill('SIGSTOP');
        const l = load(k.url, 6);
        await sleep(3000);
        const samples = await l.stop();
        assert.ok(samples.length >= 12, `requests kept completing (${samples.length})`);
        assert.ok(samples.every((s) => s.status === 503 || s.status === 504 || s.status === 200), 'only 503/504 (or a 200 that won the race)');
        assert.ok(samples.filter((s) => s.status !== 200).length >= samples.length - 6);
        assert.ok(Math.max(...samples.map((s) => s.ms)) < 2000, `no request hung (max ${Math.max(...samples.map((s) => s.ms))} ms)`);
        const r = await http('GET', `${k.url}/readyz`);
        assert.equal(r.status, 503);
        assert.match(r.body, /^not ready: store default, thread \d: (kv command timed out|kv store unavailable|kv store connection failed)(; \d+ more links? not ready)?\n$/);
        const m = (await http('GET', `${k.url}/metrics`)).body;
        assert.ok(metric(m, 'kvedge_kv_timeouts_total') > 0, 'timeouts were counted');

        await redis.kill('SIGCONT');
        await waitFor(async () => (await http('GET', `${k.url}/readyz`)).status === 200, { timeoutMs: 5000, message: 'ready after SIGCONT' });
        // both threads recover: a burst on fresh connections spreads over them
        await waitFor(async () => {
            const rs = await Promise.all(Array.from({ length: 8 }, () => http('GET', `${k.url}/readyz`)));
            return rs.every((x) => x.status === 200);
        }, { timeoutMs: 5000, message: 'all threads ready' });
        assert.match(k.stderr(), /commands timed out in a row|connect or handshake timed out/);
    } finally {
        await stopKvedgeThen(k, redis);
    }
});

test('embedded Redis: started, restarted within 2 s after kill -9 without losing acknowledged writes, stopped with kvedge', async () => {
    const dataDir = path.join(makeTempDir(), 'data');
    const k = await startKvedge({ redis: 'embedded', data_dir: dataDir, threads: 2 }, { waitReady: true });
    const sock = path.join(dataDir, 'redis.sock');
    let client;
    try {
        assert.ok(fs.existsSync(sock), 'the unix socket is in data_dir');
        assert.ok(fs.existsSync(path.join(dataDir, 'appendonlydir')), 'AOF is on');
        client = new Redis({ path: sock, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
        await new Promise((ok, fail) => client.once('ready', ok).once('error', fail));
        const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))[1]);
        assert.ok(pid > 0);

        // writes acknowledged one by one while HTTP load runs
        const l = load(k.url, 4);
        let acked = 0;
        const writer = (async () => {
            for (;;) {
                try {
                    acked = await client.incr('acked:counter');
                } catch {
                    return;
                }
            }
        })();
        await sleep(700);
        process.kill(pid, 'SIGKILL');
        const killedAt = Date.now();
        await writer;
        assert.ok(acked > 10, `writes were acknowledged before the kill (${acked})`);
        await waitFor(async () => (await http('GET', `${k.url}/readyz`)).status === 200, { timeoutMs: 2000, intervalMs: 20,
            message: 'ready again within 2 s of kill -9' });
        const backAfter = Date.now() - killedAt;
        await sleep(300);
        const samples = await l.stop();
        assert.ok(samples.every((s) => s.status === 200 || s.status === 503), 'kvedge kept answering (200 or 503)');
        assert.ok(samples.filter((s) => s.t > killedAt).length > 0, 'requests were answered around the restart');

        const c2 = new Redis({ path: sock });
        const value = Number(await c2.get('acked:counter'));
        const newPid = Number(/process_id:(\d+)/.exec(await c2.info('server'))[1]);
        c2.disconnect();
        assert.ok(value >= acked, `no acknowledged write lost: ${value} >= ${acked} (back after ${backAfter} ms)`);
        assert.notEqual(newPid, pid);
        const m = (await http('GET', `${k.url}/metrics`)).body;
        assert.equal(metric(m, 'kvedge_embedded_redis_restarts_total'), 1);
        assert.equal(metric(m, 'kvedge_embedded_redis_up'), 1);
        assert.match(k.stderr(), /embedded redis-server \(pid \d+\) was killed by signal 9; restarting/);

        const result = await k.stop();
        assertCleanExit(result);
        assert.throws(() => process.kill(newPid, 0), /ESRCH/, 'the embedded redis-server stopped with kvedge');
        assert.ok(!fs.existsSync(sock), 'socket removed');
    } finally {
        client?.disconnect();
        if (k.running) await k.stop();
    }
});

test('embedded Redis: a missing redis-server binary is a clear startup error', async () => {
    await assert.rejects(
        startKvedge({ redis: 'embedded', embedded_redis: { binary: 'no-such-redis-server' } }),
        /no-such-redis-server not found in PATH \(install the redis-server package or set embedded_redis\.binary\)/
    );
});

test('embedded Redis: a second kvedge on the same data_dir is refused', async () => {
    const dataDir = path.join(makeTempDir(), 'data');
    const k = await startKvedge({ redis: 'embedded', data_dir: dataDir, threads: 1 }, { waitReady: true });
    try {
        await assert.rejects(startKvedge({ redis: 'embedded', data_dir: dataDir, threads: 1 }), /is in use by another kvedge/);
        assert.equal((await http('GET', `${k.url}/readyz`)).status, 200, 'the first one is unaffected');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('AUTH with a password and with an ACL user; a wrong password is logged without the secret', async () => {
    const redis = await startRedis();
    const admin = redis.client();
    await admin.call('ACL', 'SETUSER', 'kvedge', 'on', '>user-pass-456', '~*', '+@all');
    await admin.config('SET', 'requirepass', 'default-pass-123'); // the harness's PING check needs no auth at start
    const port = redis.port;
    const run = async (redisConf) => {
        const k = await startKvedge({ redis: redisConf, threads: 1 });
        try {
            await sleep(300);
            return { status: (await http('GET', `${k.url}/readyz`)).status, stderr: k.stderr() };
        } finally {
            assertCleanExit(await k.stop());
        }
    };
    try {
        assert.equal((await run(`redis://:default-pass-123@127.0.0.1:${port}/0`)).status, 200, 'password in the URL');
        assert.equal((await run(`redis://kvedge:user-pass-456@127.0.0.1:${port}/1`)).status, 200, 'ACL user in the URL');
        assert.equal((await run({ url: `redis://127.0.0.1:${port}`, username: 'kvedge', password: 'user-pass-456' })).status, 200,
            'ACL user from the config keys');
        const bad = await run({ url: `redis://127.0.0.1:${port}`, password: 'wrong-secret-789' });
        assert.equal(bad.status, 503);
        assert.match(bad.stderr, /handshake failed: WRONGPASS/);
        assert.ok(!bad.stderr.includes('wrong-secret-789'), 'the password is never logged');
        const nopass = await run(`redis://127.0.0.1:${port}`);
        assert.equal(nopass.status, 503, 'NOAUTH without a password');
    } finally {
        admin.disconnect();
        await redis.stop();
    }
});

test('embedded Redis: a server that fails at startup is reported with its own log lines', async () => {
    const dir = makeTempDir();
    const fake = path.join(dir, 'broken-redis-server');
    fs.writeFileSync(fake, '#!/bin/sh\necho "*** FATAL CONFIG FILE ERROR: bad option for the test" >&2\nexit 1\n', { mode: 0o755 });
    await assert.rejects(
        startKvedge({ redis: 'embedded', data_dir: path.join(dir, 'data'), embedded_redis: { binary: fake } }),
        /embedded redis-server exited with status 1 during startup; redis\.log: \*\*\* FATAL CONFIG FILE ERROR: bad option for the test/
    );
});

const KV_TOKEN = 'link-token-0123456789abcdef';

function kvCmd(k, argv, opts = {}) {
    return http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${KV_TOKEN}` }, body: JSON.stringify(argv), ...opts });
}

function expectProtocolError(r, what) {
    assert.equal(r.status, 503, `${what}: status (body ${r.body})`);
    assert.equal(r.headers['content-type'], 'application/json', what);
    assert.deepEqual(JSON.parse(r.body), { error: 'ERR kv store protocol error' }, what);
}

test('a reply hiredis cannot parse (garbage, a huge array length): 503 JSON, a log line, the link reconnects', async () => {
    const fake = await startFakeRedis(([name, key]) => {
        if (name.toUpperCase() !== 'GET') return '-ERR unexpected command\r\n';
        if (key === 'garbage') return 'hello, this is not RESP\r\n';
        if (key === 'huge') return '*99999999\r\n'; // no elements follow: the length alone must be refused
        if (key === 'negative') return '*-5\r\n';
        return `$${key.length}\r\n${key}\r\n`;
    });
    const k = await startKvedge({ redis: fake.url, threads: 1, kv: { tokens: [{ token: KV_TOKEN }] } });
    try {
        assert.deepEqual(JSON.parse((await kvCmd(k, ['GET', 'ok1'])).body), { result: 'ok1' });
        let connections = fake.connections();
        for (const [key, log] of [
            ['garbage', /\[warn\] redis: link to 127\.0\.0\.1:\d+ is down: Protocol error, got "h" as reply type byte; reconnecting\n/],
            ['huge', /\[warn\] redis: link to 127\.0\.0\.1:\d+ is down: protocol error: an array reply with more than 16777216 elements; reconnecting\n/],
            ['negative', /\[warn\] redis: link to 127\.0\.0\.1:\d+ is down: Multi-bulk length out of range; reconnecting\n/],
        ]) {
            const logged = k.stderr().length;
            expectProtocolError(await kvCmd(k, ['GET', key]), key);
            await waitFor(() => log.test(k.stderr().slice(logged)), { message: `log line for ${key}` });
            // the link reconnects (a new connection, a new handshake) and later requests succeed
            await waitFor(async () => (await kvCmd(k, ['GET', `after-${key}`])).status === 200, { message: `200 after ${key}` });
            assert.ok(fake.connections() > connections, `${key}: reconnected`);
            connections = fake.connections();
            assert.deepEqual(JSON.parse((await kvCmd(k, ['GET', 'ok2'])).body), { result: 'ok2' });
        }
        assert.ok(!/Out of memory/.test(k.stderr()), 'a refused array is not reported as out of memory');
        const m = (await http('GET', `${k.url}/metrics`)).body;
        assert.ok(metric(m, 'kvedge_kv_reconnects_total') >= 3, 'three reconnects');
    } finally {
        await stopKvedgeThen(k, fake);
    }
});

test('a reply nested deeper than hiredis 0.14 parses (7 levels): 503 JSON protocol error, then PING works on every thread', async () => {
    const redis = await startRedis();
    const k = await startKvedge({ redis: redis.url, threads: 2, kv: { tokens: [{ token: KV_TOKEN }] } }, { waitReady: true });
    const linksUp = async () => {
        const m = (await http('GET', `${k.url}/metrics`)).body;
        const up = [...m.matchAll(/^kvedge_kv_link_up\{store="default",thread="\d+"\} (\d)$/gm)].map((x) => x[1]);
        return up.length === 2 && up.every((v) => v === '1');
    };
    const pingAll = async () => {
        const rs = await Promise.all(Array.from({ length: 8 }, () => kvCmd(k, ['PING']))); // fresh connections
        return rs.every((r) => r.status === 200 && r.body === '{"result":"PONG"}');
    };
    try {
        const seven = await kvCmd(k, ['EVAL_RO', 'return {{{{{{{1}}}}}}}', '0']);
        assert.equal(seven.status, 200, `7 levels parse (body ${seven.body})`);
        assert.deepEqual(JSON.parse(seven.body), { result: [[[[[[[1]]]]]]] });
        for (let i = 0; i < 3; i++) {
            const logged = k.stderr().length;
            expectProtocolError(await kvCmd(k, ['EVAL_RO', 'return {{{{{{{{{1}}}}}}}}}', '0']), '9 levels');
            await waitFor(() => /\[warn\] redis: link to 127\.0\.0\.1:\d+ is down: No support for nested multi bulk replies with depth > 7; reconnecting\n/
                .test(k.stderr().slice(logged)), { message: 'log line' });
            await waitFor(linksUp, { timeoutMs: 5000, message: 'the link of every thread is up again' });
            assert.ok(await pingAll(), 'PING answers 200 on every thread');
        }
    } finally {
        await stopKvedgeThen(k, redis);
    }
});
