// Hardening of the KV link to Redis (issue items 3, 5 and 8): a connection that is out of step is rebuilt,
// one request's timeouts count once towards the circuit breaker, one request cannot make Redis produce
// unbounded output (windows within the response budget, an output buffer limit on the embedded Redis and a
// check of an external one), and a reply is held to kv.max_reply_size while it is read. Each test starts its
// own servers: a real redis-server, or a fake one where a real Redis cannot be made to misbehave that way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { http, SANITIZE, sleep, startKvedge, startRedis, stopKvedgeThen, waitFor } from './harness.mjs';
import { parseCommand } from './fake_redis.mjs';
import { kvConfig, RO_TOKEN, RW_TOKEN } from './kv_helpers.mjs';

const SLOW = SANITIZE ? 3 : 1;
const TOO_BIG = { error: 'ERR max response size exceeded' };
/** kv_rest.c's WINDOW: /pipeline commands in flight at once */
const WINDOW = 128;

function kv(k, body, { token = RW_TOKEN, path: p = '', headers = {}, timeoutMs = 30_000 } = {}) {
    return http('POST', `${k.url}/kv${p}`, {
        headers: { authorization: `Bearer ${token}`, ...headers },
        body: JSON.stringify(body),
        timeoutMs,
    });
}

function json(r) {
    assert.equal(r.headers['content-type'], 'application/json', `content type of ${r.status} ${r.body.slice(0, 200)}`);
    return JSON.parse(r.body);
}

async function metric(k, name) {
    const r = await http('GET', `${k.adminUrl}metrics`);
    assert.equal(r.status, 200);
    return Number(new RegExp(`^${name}(?:\\{store="default"\\})? (\\d+)$`, 'm').exec(r.body)?.[1]);
}

/** One kvedge thread (so every request shares one link) on `redis` (a URL or a redis: map), plus `extra`. */
function startOn(redis, { kv: kvExtra = {}, ...extra } = {}) {
    return startKvedge({ ...kvConfig(typeof redis === 'string' ? redis : redis.url, kvExtra), threads: 1, redis, ...extra });
}

/**
 * A fake Redis whose connections can be switched into the state SCRIPT DEBUG YES left a real one in: a Lua
 * debugger child owns the connection and answers each read (not each command) with one array of log
 * lines, dropping whatever else the read held. `GET dbg:on` switches the connection (the rest of its read
 * is dropped, as the debugger does); `GET extra:reply` is answered twice. Anything else: GET "v", INCR 1, +OK.
 */
async function startStepFake() {
    const socks = new Set();
    let connections = 0;
    const server = net.createServer((sock) => {
        let buf = Buffer.alloc(0);
        let debugger_ = false;
        ++connections;
        socks.add(sock);
        sock.on('close', () => socks.delete(sock));
        sock.on('error', () => {});
        sock.on('data', (d) => {
            if (debugger_) {
                sock.write('*2\r\n+<debug> line 1: redis.call()\r\n+<error> Unknown Redis Lua debugger command\r\n');
                return;
            }
            buf = Buffer.concat([buf, d]);
            for (let cmd; (cmd = parseCommand(buf)) !== null; ) {
                buf = buf.subarray(cmd.used);
                const [name, arg] = [cmd.argv[0].toUpperCase(), cmd.argv[1]];
                if (name === 'PING') sock.write('+PONG\r\n');
                else if (name === 'GET' && arg === 'dbg:on') {
                    sock.write('$2\r\non\r\n');
                    debugger_ = true;
                    buf = Buffer.alloc(0);
                    return;
                } else if (name === 'GET' && arg === 'extra:reply') sock.write('$1\r\nv\r\n+OK\r\n');
                else if (name === 'GET') sock.write('$1\r\nv\r\n');
                else if (name === 'INCR') sock.write(':1\r\n');
                else sock.write('+OK\r\n');
            }
        });
    });
    await new Promise((ok) => server.listen({ host: '127.0.0.1', port: 0 }, ok));
    return {
        url: `redis://127.0.0.1:${server.address().port}`,
        connections: () => connections,
        stop() {
            for (const s of socks) s.destroy();
            return new Promise((ok) => server.close(ok));
        },
    };
}

// =============================================================================================
// issue 3: a link out of step is rebuilt

test('issue 3: a connection a Lua debugger took over (replies out of step, late) is rebuilt and the thread recovers', async () => {
    const fake = await startStepFake();
    const k = await startOn({ url: fake.url, command_timeout: '300ms', breaker_threshold: 3 });
    try {
        assert.deepEqual(json(await kv(k, ['GET', 'a'])), { result: 'v' });
        // the debugger answers GET dbg:on and drops GET x: GET x times out, and from now on every reply
        // is a debugger's answer that lands on the oldest command still queued, one that already timed out
        const r = await kv(k, [['GET', 'dbg:on'], ['GET', 'x']], { path: '/pipeline' });
        assert.equal(r.status, 504, r.body);
        const statuses = [];
        const t0 = Date.now();
        let ok = null;
        while (Date.now() - t0 < 10_000 * SLOW) {
            const g = await http('GET', `${k.url}/kv/get/y`, { headers: { authorization: `Bearer ${RW_TOKEN}` } });
            statuses.push(g.status);
            if (g.status === 200) {
                ok = json(g);
                break;
            }
        }
        assert.deepEqual(ok, { result: 'v' }, `a GET answered by a new connection (statuses ${statuses.join(' ')})`);
        assert.ok(fake.connections() >= 2, 'the link was rebuilt');
        assert.match(k.stderr(), /commands timed out in a row/);
        assert.ok((await metric(k, 'kvedge_kv_late_replies_total')) >= 1, 'late replies are counted');
        assert.ok(Date.now() - t0 < 3000 * SLOW, `recovered after ${Date.now() - t0} ms: ${statuses.join(' ')}\n${k.stderr()}`);
    } finally {
        await stopKvedgeThen(k, fake);
    }
});

test('issue 3: a reply no command waits for rebuilds the link (hiredis would abort kvedge)', async () => {
    const fake = await startStepFake();
    const k = await startOn({ url: fake.url, command_timeout: '1s' });
    try {
        assert.deepEqual(json(await kv(k, ['GET', 'extra:reply'])), { result: 'v' });
        await waitFor(async () => (await kv(k, ['GET', 'a'])).status === 200, { message: 'GET after the link was rebuilt' });
        assert.ok(k.running, 'kvedge is still running');
        assert.equal(fake.connections(), 2, 'one new connection');
        assert.match(k.stderr(), /a reply no command was waiting for \(the connection is out of step\)/);
    } finally {
        await stopKvedgeThen(k, fake);
    }
});

// =============================================================================================
// issue 5: one request cannot take the store down for everyone

test('issue 5: one request\'s timeouts count once towards the breaker; separate requests still trip it', async () => {
    const redis = await startRedis();
    const k = await startOn({ url: redis.url, command_timeout: '300ms', breaker_threshold: 3 });
    try {
        assert.equal((await kv(k, ['SET', 'b:k', 'v'])).status, 200);
        await redis.kill('SIGSTOP');
        const r = await kv(k, Array.from({ length: 50 }, () => ['GET', 'b:k']), { path: '/pipeline', token: RO_TOKEN });
        assert.equal(r.status, 504, r.body);
        await redis.kill('SIGCONT');
        // the link stayed up: a bystander is served at once (the late replies are read and dropped)
        const g = await kv(k, ['GET', 'b:k']);
        assert.equal(g.status, 200, `bystander after the pipeline timed out: ${g.body}`);
        assert.doesNotMatch(k.stderr(), /is down/);
        assert.equal(await metric(k, 'kvedge_kv_reconnects_total'), 0);

        // three requests timing out in a row still trip it (each counts once)
        await redis.kill('SIGSTOP');
        for (let i = 0; i < 3; i++) assert.equal((await kv(k, [['GET', 'b:k'], ['GET', 'b:k']], { path: '/pipeline' })).status, 504);
        await waitFor(() => /is down: 3 commands timed out in a row/.test(k.stderr()), { message: 'breaker tripped' });
        await redis.kill('SIGCONT');
        await waitFor(async () => (await kv(k, ['GET', 'b:k'])).status === 200, { message: 'recovered' });
    } finally {
        await stopKvedgeThen(k, redis);
    }
});

test('issue 5: a long /pipeline is sent in windows and stops once kv.max_reply_size is spent (Redis runs a bounded number)', async () => {
    const redis = await startRedis();
    const io = redis.client();
    const k = await startOn(redis.url, { kv: { max_reply_size: '1MiB' } });
    try {
        const value = 'x'.repeat(64 * 1024);
        await io.set('w:big', value);
        await io.config('RESETSTAT');
        const n = 2000;
        const r = await kv(k, Array.from({ length: n }, () => ['GET', 'w:big']), { path: '/pipeline', token: RO_TOKEN });
        assert.equal(r.status, 200);
        const entries = json(r);
        assert.equal(entries.length, n);
        const fitting = entries.findIndex((e) => e.result === undefined);
        assert.ok(fitting >= 10 && fitting <= 16, `${fitting} values fit in 1 MiB`);
        assert.ok(entries.slice(0, fitting).every((e) => e.result === value));
        assert.ok(entries.slice(fitting).every((e) => e.error === TOO_BIG.error));
        const stats = await io.info('commandstats');
        const calls = Number(/cmdstat_get:calls=(\d+)/.exec(stats)?.[1]);
        assert.ok(calls <= (1024 * 1024) / value.length + WINDOW + 1, `Redis ran ${calls} GETs for one request`);

        // a window's worth of writes and more: all applied, the batch's ROLE (its sync position) after the last of them
        const seen = [];
        const monitor = await redis.monitor({ onCommand: (c) => seen.push(c.args.join(' ')) });
        const sets = Array.from({ length: 300 }, (_, i) => ['SET', `w:${i}`, String(i)]);
        const s = await kv(k, [...sets, ['GET', 'w:299']], { path: '/pipeline' });
        assert.deepEqual(json(s), [...sets.map(() => ({ result: 'OK' })), { result: '299' }]);
        await waitFor(() => seen.some((c) => /^role$/i.test(c)), { message: 'ROLE seen' });
        monitor.disconnect();
        const role = seen.findIndex((c) => /^role$/i.test(c));
        const lastSet = seen.findLastIndex((c) => /^set w:/i.test(c));
        assert.ok(lastSet !== -1 && role > lastSet, `ROLE at ${role}, last SET at ${lastSet}`);
        assert.match(s.headers['upstash-sync-token'], /^[1-9]\d*$/);
        assert.ok(!seen.some((c) => /^incr /i.test(c)), 'no counter key is written');
        // a pipeline of at most WINDOW commands goes whole: one write carries all of them
        assert.equal((await kv(k, Array.from({ length: WINDOW }, () => ['PING']), { path: '/pipeline' })).status, 200);
    } finally {
        io.disconnect();
        await stopKvedgeThen(k, redis);
    }
});

/** CONFIG GET client-output-buffer-limit of the embedded Redis of `k` (over its unix socket). */
async function embeddedOutputLimit(k) {
    const sock = path.join(k.config.data_dir, 'redis.sock');
    const { default: Redis } = await import('ioredis');
    const c = new Redis({ path: sock, maxRetriesPerRequest: 1 });
    try {
        return (await c.config('GET', 'client-output-buffer-limit'))[1];
    } finally {
        c.disconnect();
    }
}

test('issue 5: the embedded Redis bounds its output buffer per connection (embedded_redis.client_output_buffer_limit)', async () => {
    for (const [conf, expected] of [[{}, 'normal 268435456 0 0'], [{ client_output_buffer_limit: '32MiB' }, 'normal 33554432 0 0'],
        [{ client_output_buffer_limit: '0' }, 'normal 0 0 0']]) {
        const k = await startKvedge({ ...kvConfig('embedded'), threads: 1, embedded_redis: conf }, { waitReady: true });
        try {
            assert.match(await embeddedOutputLimit(k), new RegExp(`^${expected} `), JSON.stringify(conf));
            assert.doesNotMatch(k.stderr(), /cannot check|CONFIG GET/, 'the embedded one is not checked');
            assert.equal(/client_output_buffer_limit is 0: .* unlimited/.test(k.stderr()), expected === 'normal 0 0 0', 'warning for 0');
        } finally {
            const res = await k.stop();
            assert.equal(res.code, 0, res.stderr);
        }
    }
});

test('issue 5: an external Redis is checked once: a warning when its output buffer is unlimited, a note when it cannot be checked', async () => {
    const unlimited = await startRedis();
    let k = await startOn(unlimited.url);
    try {
        await waitFor(() => /client-output-buffer-limit for normal clients is unlimited/.test(k.stderr()), { message: 'warning' });
    } finally {
        await stopKvedgeThen(k, unlimited);
    }
    const limited = await startRedis({ args: ['--client-output-buffer-limit', 'normal', '64mb', '0', '0'] });
    k = await startOn(limited.url, { log: { level: 'debug' } });
    try {
        await waitFor(() => /client-output-buffer-limit normal: hard 67108864/.test(k.stderr()), { message: 'checked' });
        assert.doesNotMatch(k.stderr(), /unlimited/);
    } finally {
        await stopKvedgeThen(k, limited);
    }
    const acl = await startRedis();
    const io = acl.client();
    await io.acl('SETUSER', 'kv', 'on', '>kv-password-123', '~*', '&*', '+@all', '-config');
    io.disconnect();
    k = await startOn({ url: acl.url, username: 'kv', password: 'kv-password-123' });
    try {
        assert.equal((await kv(k, ['SET', 'a', '1'])).status, 200);
        await waitFor(() => /cannot check Redis' client-output-buffer-limit \(CONFIG GET: NOPERM/.test(k.stderr()), { message: 'note' });
        assert.equal(k.stderr().match(/cannot check/g).length, 1, 'once');
    } finally {
        await stopKvedgeThen(k, acl);
    }
});

// =============================================================================================
// issue 8: a reply is held to kv.max_reply_size while it is read

/** kvedge's peak resident memory (VmHWM) in bytes */
function peakRss(pid) {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m[1]) * 1024;
}

test('issue 8: LRANGE of 1M elements over kv.max_reply_size is dropped while read: the error, and kvedge\'s memory stays bounded', async () => {
    const redis = await startRedis();
    const io = redis.client();
    const k = await startOn(redis.url, { kv: { max_reply_size: '8MiB' } });
    try {
        await io.eval(`for i = 1, 1000 do
            local t = {} for j = 1, 1000 do t[j] = 'x' end
            redis.call('RPUSH', KEYS[1], unpack(t)) end`, 1, 'big:list');
        assert.equal(await io.llen('big:list'), 1_000_000);
        assert.deepEqual(json(await kv(k, ['LRANGE', 'big:list', 0, 9])), { result: Array(10).fill('x') });
        const before = peakRss(k.pid);
        const r = await kv(k, ['LRANGE', 'big:list', 0, -1], { token: RO_TOKEN });
        assert.equal(r.status, 400);
        assert.deepEqual(json(r), TOO_BIG);
        const grew = peakRss(k.pid) - before;
        assert.ok(grew < 40 * 1024 * 1024, `peak RSS grew by ${(grew / 1048576).toFixed(1)} MiB`);
        // the same reply in a transaction: its entry is the error, the others stand; the link is fine after
        assert.deepEqual(json(await kv(k, [['LRANGE', 'big:list', 0, -1], ['LLEN', 'big:list']], { path: '/multi-exec' })),
            [TOO_BIG, { result: 1_000_000 }]);
        assert.deepEqual(json(await kv(k, ['LRANGE', 'big:list', 0, 2])), { result: ['x', 'x', 'x'] });
        // within the limit as memory (strings plus a fixed cost per element): still a result
        assert.equal(json(await kv(k, ['LRANGE', 'big:list', 0, 9999])).result.length, 10000);
    } finally {
        io.disconnect();
        await stopKvedgeThen(k, redis);
    }
});

test('issue 8: a value over kv.max_reply_size is dropped as it arrives, not buffered whole, and the link stays in step', async () => {
    const redis = await startRedis();
    const io = redis.client();
    const k = await startOn(redis.url, { kv: { max_reply_size: '1MiB' } });
    try {
        await io.set('huge', 'h'.repeat(32 * 1024 * 1024));
        await io.set('small', 's');
        assert.deepEqual(json(await kv(k, ['GET', 'small'])), { result: 's' });
        const before = peakRss(k.pid);
        for (let i = 0; i < 3; i++) {
            const r = await kv(k, ['GET', 'huge'], { token: RO_TOKEN });
            assert.equal(r.status, 400);
            assert.deepEqual(json(r), TOO_BIG);
        }
        assert.deepEqual(json(await kv(k, [['GET', 'huge'], ['GET', 'small'], ['GET', 'huge'], ['SET', 'after', '1'], ['GET', 'after']],
            { path: '/pipeline' })), [TOO_BIG, { result: 's' }, TOO_BIG, { result: 'OK' }, { result: '1' }]);
        assert.deepEqual(json(await kv(k, [['GET', 'huge'], ['GET', 'small']], { path: '/multi-exec' })), [TOO_BIG, { result: 's' }]);
        const grew = peakRss(k.pid) - before;
        assert.ok(grew < 16 * 1024 * 1024, `peak RSS grew by ${(grew / 1048576).toFixed(1)} MiB for a 32 MiB value`);
        assert.deepEqual(json(await kv(k, ['STRLEN', 'huge'])), { result: 32 * 1024 * 1024 });
        assert.equal(await metric(k, 'kvedge_kv_reconnects_total'), 0, 'the connection was never rebuilt');
    } finally {
        io.disconnect();
        await stopKvedgeThen(k, redis);
    }
});
