// KV streams (SSE /subscribe, /psubscribe, /monitor) when things go wrong: Redis hung (SIGSTOP) while a
// stream connects, a subscription a (fake) Redis never confirms, a handshake Redis refuses (no or wrong
// password), Redis killed or restarted under a started stream, a subscriber that stops reading, and the
// kv.max_streams cap. Every test ends with a clean exit (exit 0, no sanitizer report in the ASan build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startFakeRedis } from './fake_redis.mjs';
import { assertCleanExit, http, SANITIZE, startKvedge, startRedis, stopKvedgeThen, waitFor } from './harness.mjs';
import { kvConfig, openStream as openSseStream, RO_TOKEN, RW_TOKEN } from './kv_helpers.mjs';

/** time bounds are stretched in sanitizer builds */
const SLOW = SANITIZE ? 3 : 1;

const auth = (token = RW_TOKEN) => ({ authorization: `Bearer ${token}` });

const openStream = (url, opts = {}) => openSseStream(url, { timeoutMs: 60_000, waitMs: 5000 * SLOW, ...opts });

/** A JSON error response: status, content type and {"error": <text matching re>}. */
function expectError(r, status, re, what = '') {
    assert.equal(r.status, status, `${what} status (body ${r.body.slice(0, 300)})`);
    assert.equal(r.headers['content-type'], 'application/json', what);
    const body = JSON.parse(r.body);
    assert.deepEqual(Object.keys(body), ['error'], what);
    assert.match(body.error, re, what);
}

/** A subscription that works end to end: 200, the subscribe event, then a published message. */
async function assertSubscribeWorks(base, io, channel) {
    const s = await openStream(`${base}/subscribe/${channel}`);
    try {
        assert.equal(s.status, 200);
        await s.waitData(`subscribe,${channel},1`);
        await io.publish(channel, 'hi');
        await s.waitData(`message,${channel},hi`);
    } finally {
        s.close();
    }
}

test('subscribe while Redis is SIGSTOPped: 504 JSON within about connect_timeout, kvedge stays up and recovers', async () => {
    const redis = await startRedis();
    const k = await startKvedge(kvConfig({ url: redis.url, connect_timeout: '500ms' }));
    const io = redis.client();
    const base = `${k.url}/kv`;
    try {
        await assertSubscribeWorks(base, io, 'before');
        await redis.kill('SIGSTOP');
        for (let i = 0; i < 3; i++) {
            const t0 = Date.now();
            const r = await http('GET', `${base}/subscribe/stopped`, { headers: auth(), timeoutMs: 10_000 });
            const ms = Date.now() - t0;
            expectError(r, 504, /^ERR .*timed out/, 'hung Redis');
            assert.ok(ms >= 400 && ms < 1500 * SLOW, `answered after ${ms} ms (connect_timeout 500 ms)`);
        }
        assert.equal((await http('GET', `${k.url}/healthz`)).status, 200, 'kvedge is still up');
        await waitFor(() => /subscription stream ended: kv command timed out/.test(k.stderr()), { message: 'log line' });
        await redis.kill('SIGCONT');
        await assertSubscribeWorks(base, io, 'after');
    } finally {
        io.disconnect();
        await stopKvedgeThen(k, redis);
    }
});

test('a subscription Redis never confirms (handshake done, SUBSCRIBE unanswered): 504 JSON within about connect_timeout', async () => {
    const fake = await startFakeRedis(([name]) => (name.toUpperCase() === 'GET' ? '$-1\r\n' : null));
    const k = await startKvedge(kvConfig({ url: fake.url, connect_timeout: '500ms' }, { allow_commands: ['monitor'] }, { threads: 1 }));
    try {
        for (const what of ['/subscribe/silent', '/monitor']) {
            const t0 = Date.now();
            const r = await http('GET', `${k.url}/kv${what}`, { headers: auth(), timeoutMs: 10_000 });
            const ms = Date.now() - t0;
            expectError(r, 504, /^ERR .*timed out/, what);
            assert.ok(ms >= 400 && ms < 1500 * SLOW, `${what}: answered after ${ms} ms (connect_timeout 500 ms)`);
            assert.ok(fake.commands.some((c) => c.argv[0] === what.split('/')[1].toUpperCase()), `${what}: the command reached Redis`);
        }
        assert.equal((await http('POST', `${k.url}/kv`, { headers: auth(), body: JSON.stringify(['GET', 'k']) })).status, 200,
            'the link is unaffected');
    } finally {
        await stopKvedgeThen(k, fake);
    }
});

test('stream handshake refused (no password, wrong password): 503 JSON and a log line without the secret; the right one works', async () => {
    const redis = await startRedis();
    const admin = redis.client();
    await admin.config('SET', 'requirepass', 'stream-pass-123');
    const run = async (redisConf) => {
        const k = await startKvedge(kvConfig(redisConf, {}, { threads: 1 }));
        let r, healthz, stopped;
        try {
            r = await http('GET', `${k.url}/kv/subscribe/locked`, { headers: auth() });
            healthz = await http('GET', `${k.url}/healthz`);
        } finally {
            stopped = await k.stop();
        }
        assertCleanExit(stopped);
        assert.equal(healthz.status, 200, 'kvedge stayed up');
        return { r, stderr: stopped.stderr }; // complete: the process has exited
    };
    try {
        const nopass = await run(redis.url);
        expectError(nopass.r, 503, /^ERR kv store connection failed$/, 'no password');
        assert.match(nopass.stderr, /\[warn\] redis: stream to 127\.0\.0\.1:\d+: handshake failed: NOAUTH/);
        assert.match(nopass.stderr, /\[warn\] kv: subscription stream ended: kv store connection failed/);

        const wrong = await run({ url: redis.url, password: 'wrong-secret-789' });
        expectError(wrong.r, 503, /^ERR kv store connection failed$/, 'wrong password');
        assert.match(wrong.stderr, /\[warn\] redis: stream to 127\.0\.0\.1:\d+: handshake failed: WRONGPASS/);
        assert.ok(!wrong.stderr.includes('wrong-secret-789'), 'the password is never logged');

        const k = await startKvedge(kvConfig({ url: redis.url, password: 'stream-pass-123' }, {}, { threads: 1 }));
        try {
            await assertSubscribeWorks(`${k.url}/kv`, admin, 'unlocked');
            assert.ok(!k.stderr().includes('stream-pass-123'));
        } finally {
            assertCleanExit(await k.stop());
        }
    } finally {
        admin.disconnect();
        await redis.stop();
    }
});

/** The kvedge_connections gauge (the metrics request itself is one of them). */
async function connections(k) {
    const body = (await http('GET', `${k.url}/metrics`)).body;
    return Number(/^kvedge_connections (\d+)$/m.exec(body)[1]);
}

test('Redis killed or restarted under a started stream: the stream ends, the request is released, a new subscribe works', async () => {
    const redis = await startRedis();
    const k = await startKvedge(kvConfig(redis.url, { allow_commands: ['monitor'] }, { threads: 1 }));
    const base = `${k.url}/kv`;
    try {
        for (const how of ['SIGKILL', 'restart']) {
            const s = await openStream(`${base}/subscribe/doomed`);
            const m = await openStream(`${base}/monitor`);
            assert.equal(s.status, 200);
            assert.equal(m.status, 200);
            await s.waitData('subscribe,doomed,1');
            await m.waitData('"OK"');
            assert.equal(await connections(k), 3, `${how}: two streams and the metrics request`);
            const t0 = Date.now();
            if (how === 'SIGKILL') await redis.kill('SIGKILL');
            const restarted = how === 'restart' ? redis.restart() : null;
            const [text] = await Promise.all([s.ended, m.ended]);
            assert.ok(Date.now() - t0 < 2000 * SLOW, `${how}: the streams ended after ${Date.now() - t0} ms`);
            assert.ok(text.endsWith('\n\n') && !text.includes('message,'), `${how}: ended after a complete event: ${JSON.stringify(text)}`);
            assert.ok(s.complete() && m.complete(), `${how}: the responses ended properly (not reset)`);
            await waitFor(async () => (await connections(k)) === 1, { message: `${how}: the stream requests were released` });
            if (restarted) await restarted;
            else await redis.restart();
            const io = redis.client();
            await assertSubscribeWorks(base, io, `after-${how}`);
            io.disconnect();
        }
        await waitFor(() => /\[warn\] kv: subscription stream ended: kv store connection failed/.test(k.stderr()), { message: 'log line' });
    } finally {
        await stopKvedgeThen(k, redis);
    }
});

test('a subscriber that stops reading is dropped once more than 1 MiB is queued for it', async () => {
    const redis = await startRedis();
    const k = await startKvedge(kvConfig(redis.url, {}, { threads: 1 }));
    const io = redis.client();
    const sock = net.connect(k.port, '127.0.0.1');
    try {
        let head = '';
        await new Promise((ok, fail) => {
            sock.on('error', fail);
            sock.on('data', function onData(d) {
                head += d.toString('latin1');
                if (!head.includes('subscribe,slow,1')) return;
                sock.off('data', onData);
                sock.pause(); // from now on nothing is read: the kernel buffers fill, then kvedge's queue grows
                ok();
            });
            sock.write(`GET /kv/subscribe/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${RW_TOKEN}\r\n\r\n`);
        });
        assert.match(head, /^HTTP\/1\.1 200 /);
        const payload = 'x'.repeat(64 * 1024);
        let published = 0;
        await waitFor(async () => {
            for (let i = 0; i < 16; i++) published += Number(await io.publish('slow', payload));
            const [, n] = await io.pubsub('NUMSUB', 'slow');
            return Number(n) === 0;
        }, { timeoutMs: 30_000, intervalMs: 1, message: 'the slow subscriber was unsubscribed' });
        const m = await waitFor(() => /\[warn\] kv: dropping a subscriber that does not read \((\d+) bytes queued\)/.exec(k.stderr()),
            { message: 'the log line' });
        assert.ok(Number(m[1]) > 1024 * 1024 && Number(m[1]) < 1024 * 1024 + 2 * payload.length, `queued ${m[1]} bytes`);
        assert.ok(published * payload.length > 1024 * 1024, 'more than the bound was published to it');
        sock.destroy();
        await assertSubscribeWorks(`${k.url}/kv`, io, 'fast');
    } finally {
        sock.destroy();
        io.disconnect();
        await stopKvedgeThen(k, redis);
    }
});

test('kv.max_streams: 2 streams at once over 2 threads, a third gets 503 JSON and a warning; closed or failed streams free their slot', async () => {
    const redis = await startRedis();
    const k = await startKvedge(kvConfig(redis.url, { max_streams: 2, allow_commands: ['monitor'] }));
    const base = `${k.url}/kv`;
    const io = redis.client();
    try {
        // a read-only token is enough to hold Redis connections
        const a = await openStream(`${base}/subscribe/cap1`, { token: RO_TOKEN });
        const b = await openStream(`${base}/psubscribe/cap*`, { token: RO_TOKEN });
        assert.equal(a.status, 200);
        assert.equal(b.status, 200);
        for (const what of ['/subscribe/cap3', '/monitor', '/psubscribe/x*']) {
            const r = await http('GET', `${base}${what}`, { headers: auth() });
            expectError(r, 503, /^ERR too many streams \(kv\.max_streams is 2\)$/, what);
        }
        assert.equal((await http('POST', base, { headers: auth(), body: JSON.stringify(['PING']) })).status, 200, 'commands are not limited');
        const warnings = () => (k.stderr().match(/\[warn\] kv: kv\.max_streams \(2\) reached: refusing new streams until one closes/g) ?? []).length;
        await waitFor(() => warnings() === 1, { message: 'one warning for the episode' });
        // closing one frees its slot (kvedge sees the hangup at once), and the cap still holds after that
        a.close();
        const c = await waitFor(async () => {
            const s = await openStream(`${base}/subscribe/cap4`);
            if (s.status === 200) return s;
            s.close();
            return null;
        }, { message: 'a slot is free again after a stream closed' });
        await c.waitData('subscribe,cap4,1');
        expectError(await http('GET', `${base}/subscribe/cap5`, { headers: auth() }), 503, /^ERR too many streams/);
        await waitFor(() => warnings() === 2, { message: 'the cap was reached again after a slot was free: a second warning' });
        b.close();
        c.close();
        // kvedge gives the slot back in the same step as it closes the Redis connection
        await waitFor(async () => (await io.pubsub('NUMSUB', 'cap4'))[1] === 0 && (await io.pubsub('NUMPAT')) === 0, { message: 'both closed' });
        await assertSubscribeWorks(base, io, 'cap6');

        // streams that fail (Redis down) give their slots back
        await redis.stop();
        for (let i = 0; i < 3; i++) expectError(await http('GET', `${base}/subscribe/down`, { headers: auth() }), 503, /^ERR kv store connection failed$/);
        await redis.restart();
        const io2 = redis.client();
        const e = await openStream(`${base}/subscribe/back1`);
        const f = await openStream(`${base}/subscribe/back2`);
        try {
            assert.equal(e.status, 200);
            assert.equal(f.status, 200);
            await e.waitData('subscribe,back1,1');
            await f.waitData('subscribe,back2,1');
            expectError(await http('GET', `${base}/subscribe/back3`, { headers: auth() }), 503, /^ERR too many streams/);
        } finally {
            e.close();
            f.close();
            io2.disconnect();
        }
        await waitFor(() => warnings() === 3, { message: 'a third episode, a third warning' });
    } finally {
        io.disconnect();
        await stopKvedgeThen(k, redis);
    }
});
