// Issue 8: request coalescing. Concurrent misses for one object make one upstream request: within a thread, across
// the threads of one process and across kvedge instances sharing the store (a lock in KV). An uncacheable answer
// releases the waiters at once (and is remembered: hit-for-pass), a failing leader releases them to go upstream
// themselves, and with the store down every request is still answered. A recording origin that delays its answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http_ from 'node:http';
import { assertCleanExit, SANITIZE, startKvedge, startRedis, startUpstream, sleep, http, waitFor } from './harness.mjs';

const SLOW = SANITIZE ? 3 : 1;

/** An origin whose answers come after `delay` ms: /obj/* cacheable, /nostore uncacheable, /fail/* 500 once then 200. */
async function startSlowOrigin(delay) {
    const failed = new Set();
    const origin = await startUpstream(async (req, res) => {
        await sleep(delay);
        const send = (status, headers, body) => {
            res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
            res.end(body);
        };
        if (req.url.startsWith('/obj/')) return send(200, { 'cache-control': 'max-age=60' }, `object ${req.url}`);
        if (req.url === '/nostore') return send(200, { 'cache-control': 'no-store' }, 'not stored');
        if (req.url === '/toggle') // no-store on the first request, then cacheable
            return send(200, { 'cache-control': seen(origin, '/toggle') === 1 ? 'no-store' : 'max-age=60' }, 'toggle');
        if (req.url.startsWith('/stream/')) { // chunked, in five pieces 200 ms apart
            res.writeHead(200, { 'cache-control': 'max-age=60' });
            for (const piece of ['a', 'b', 'c', 'd']) {
                if (!res.destroyed) res.write(piece);
                await sleep(200);
            }
            return res.end('e');
        }
        if (req.url.startsWith('/fail/')) {
            if (!failed.has(req.url)) {
                failed.add(req.url);
                return send(500, { 'cache-control': 'no-store' }, 'origin failed');
            }
            return send(200, { 'cache-control': 'max-age=60' }, `object ${req.url}`);
        }
        return send(404, {}, 'not found');
    });
    return origin;
}

function start(redis, origin, threads = 2, cache = {}) {
    return startKvedge({
        threads,
        redis: redis.url,
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { coalesce_timeout: '5s', ...cache } }],
    });
}

/** `n` concurrent GETs of `path` over `sockets` keep-alive connections per target; resolves with every response. */
async function burst(targets, path, n, sockets = 100) {
    const agents = targets.map(() => new http_.Agent({ keepAlive: true, maxSockets: sockets }));
    try {
        const all = [];
        for (let i = 0; i < n; i++) {
            const t = i % targets.length;
            // one Host for every instance (the key covers the host; instances behind one name share objects)
            all.push(http('GET', `${targets[t].url}${path}`, { agent: agents[t], timeoutMs: 20_000, headers: { host: 'cdn.test' } }));
        }
        return await Promise.all(all);
    } finally {
        agents.forEach((a) => a.destroy());
    }
}

function seen(origin, url) {
    return origin.requests.filter((r) => r.url === url).length;
}

function statuses(rs) {
    const out = { stored: 0, collapsed: 0, hit: 0, other: [] };
    for (const r of rs) {
        const cs = r.headers['cache-status'] ?? '';
        if (/; collapsed$/.test(cs)) out.collapsed++;
        else if (/; stored$/.test(cs)) out.stored++;
        else if (/^kvedge; hit;/.test(cs)) out.hit++;
        else out.other.push(cs);
    }
    return out;
}

test('issue 8: 500 concurrent requests for one cold URL make exactly one upstream request (one instance, threads: 2)', async () => {
    const redis = await startRedis();
    const origin = await startSlowOrigin(500);
    const k = await start(redis, origin);
    try {
        const rs = await burst([k], '/api/obj/a', 500);
        for (const r of rs) assert.equal(r.status, 200, r.body);
        for (const r of rs) assert.equal(r.body, 'object /obj/a');
        assert.equal(seen(origin, '/obj/a'), 1);
        const s = statuses(rs);
        assert.deepEqual(s.other, []);
        assert.equal(s.stored, 1);
        assert.ok(s.collapsed >= 50, `collapsed: ${s.collapsed}`);
        assert.match(rs.find((r) => /collapsed/.test(r.headers['cache-status'])).headers['cache-status'],
            /^kvedge; fwd=uri-miss; fwd-status=200; ttl=\d+; collapsed$/);
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: two kvedge instances on one store: 500 concurrent requests for one cold URL make exactly one upstream request', async () => {
    const redis = await startRedis();
    const origin = await startSlowOrigin(500);
    const k1 = await start(redis, origin);
    const k2 = await start(redis, origin);
    try {
        const rs = await burst([k1, k2], '/api/obj/b', 500);
        for (const r of rs) assert.equal(r.status, 200, r.body);
        for (const r of rs) assert.equal(r.body, 'object /obj/b');
        assert.equal(seen(origin, '/obj/b'), 1);
        const s = statuses(rs);
        assert.deepEqual(s.other, []);
        assert.equal(s.stored, 1);
        assert.ok(s.collapsed >= 50, `collapsed: ${s.collapsed}`);
        const c = redis.client();
        await waitFor(async () => (await c.keys('kvc1:*:l')).length === 0, { message: 'the lock is released' });
    } finally {
        assertCleanExit(await k1.stop());
        assertCleanExit(await k2.stop());
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: an uncacheable answer releases the waiters at once, and the next requests skip coalescing (hit-for-pass)', async () => {
    const redis = await startRedis();
    const origin = await startSlowOrigin(300);
    const k = await start(redis, origin);
    try {
        const t0 = Date.now();
        const rs = await burst([k], '/api/nostore', 500);
        const elapsed = Date.now() - t0;
        for (const r of rs) assert.equal(r.status, 200, r.body);
        assert.equal(seen(origin, '/nostore'), 500);
        // the first answer came at ~300 ms; the waiters then reached the origin together, not one after the other
        const times = origin.requests.map((r) => r.time).sort((a, b) => a - b);
        const firstAnswer = times[0] + 300;
        const soon = times.filter((t) => t >= firstAnswer - 50 && t < firstAnswer + 200).length;
        assert.ok(soon >= 50, `${soon} requests reached the origin within 200 ms of the first answer`);
        // 100 connections x 5 requests of 300 ms each, plus the first: far below a serialised wait
        assert.ok(elapsed < 4000 * SLOW, `all answered in ${elapsed} ms`);
        // the pass is remembered in the lock key for the other instances
        const c = redis.client();
        const lock = await waitFor(async () => {
            const [key] = await c.keys('kvc1:*:l');
            return key !== undefined && (await c.get(key)) === 'pass' ? key : null;
        }, { message: 'the lock key holds "pass"' });
        assert.equal((await c.keys('kvc1:*:l')).length, 1);
        const pttl = await c.pttl(lock);
        assert.ok(pttl > 0 && pttl <= 10_000, `pass for ${pttl} ms`);
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});

test("issue 8: the leader's upstream failing (500) releases the waiters: they go upstream themselves, at once", async () => {
    const redis = await startRedis();
    const origin = await startSlowOrigin(300);
    const k = await start(redis, origin, 2, { coalesce_timeout: '10s' });
    try {
        const t0 = Date.now();
        const rs = await burst([k], '/api/fail/c', 100);
        const elapsed = Date.now() - t0;
        const ok = rs.filter((r) => r.status === 200).length;
        assert.equal(rs.filter((r) => r.status === 500).length, 1);
        assert.equal(ok, 99);
        assert.ok(seen(origin, '/fail/c') >= 2, 'the waiters went upstream');
        assert.ok(elapsed < 3000 * SLOW, `answered in ${elapsed} ms (the wait bound is 10 s)`);
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: coalescing with the store down: every request is still answered', async () => {
    const redis = await startRedis();
    const origin = await startSlowOrigin(200);
    const k = await start(redis, origin, 2, { store_timeout: '200ms' });
    try {
        await redis.stop();
        const rs = await burst([k], '/api/obj/d', 100, 50);
        for (const r of rs) assert.equal(r.status, 200, r.body);
        assert.ok(seen(origin, '/obj/d') >= 1);
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop().catch(() => {});
    }
});

test("issue 8: the leader's client going away does not strand the waiters: all answered within the bound", async () => {
    const redis = await startRedis();
    const origin = await startSlowOrigin(1000);
    const k = await start(redis, origin, 2, { coalesce_timeout: '10s' });
    try {
        const leader = http_.get({ host: '127.0.0.1', port: k.port, path: '/api/obj/e', headers: { host: 'cdn.test' } });
        leader.on('error', () => {});
        await sleep(150);
        const t0 = Date.now();
        const waiters = burst([k], '/api/obj/e', 50, 50);
        await sleep(100);
        leader.destroy();
        const rs = await waiters;
        for (const r of rs) assert.equal(r.status, 200, r.body);
        assert.ok(Date.now() - t0 < 4000 * SLOW, `answered in ${Date.now() - t0} ms (the bound is 10 s)`);
        assert.ok(seen(origin, '/obj/e') <= 2, `${seen(origin, '/obj/e')} upstream requests`);
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});

test("issue 8: a fill continues after the leader's client disconnects: the object is stored and the waiters answer it", async () => {
    const redis = await startRedis();
    const origin = await startSlowOrigin(0);
    const k = await start(redis, origin, 1, { coalesce_timeout: '10s' });
    try {
        const leader = http_.get({ host: '127.0.0.1', port: k.port, path: '/api/stream/f', headers: { host: 'cdn.test' } });
        leader.on('error', () => {});
        leader.on('response', (res) => res.on('error', () => {}));
        await sleep(50);
        const waiters = burst([k], '/api/stream/f', 20, 20);
        await sleep(50);
        leader.destroy();
        const rs = await waiters;
        for (const r of rs) {
            assert.equal(r.status, 200, r.body);
            assert.equal(r.body, 'abcde');
            assert.match(r.headers['cache-status'], /; collapsed$/);
        }
        const after = await http('GET', `${k.url}/api/stream/f`, { headers: { host: 'cdn.test' } });
        assert.match(after.headers['cache-status'], /^kvedge; hit;/);
        // the leader's own fetch was cut with its client; the background fill made the second and last one
        assert.equal(seen(origin, '/stream/f'), 2);
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: a lock left by a crashed instance: a miss waits until the lock expires (never forever), then goes upstream and stores', async () => {
    const redis = await startRedis();
    const origin = await startSlowOrigin(0);
    const k1 = await start(redis, origin, 1);
    const c = redis.client();
    let k2;
    try {
        // k1's uncacheable answer leaves "pass" in the lock key: that names the key for the test
        const first = await http('GET', `${k1.url}/api/toggle`, { headers: { host: 'cdn.test' } });
        assert.match(first.headers['cache-status'], /detail=no-store/);
        // the lock is set to "pass" by a write that may land just after the response
        const lock = await waitFor(async () => {
            const [key] = await c.keys('kvc1:*:l');
            return key !== undefined && (await c.get(key)) === 'pass' ? key : null;
        }, { message: 'the lock key holds "pass"' });
        k2 = await start(redis, origin, 1); // an instance that has not seen the pass
        await http('GET', `${k2.url}/api/obj/warm`, { headers: { host: 'cdn.test' } }); // its store link is up
        await c.set(lock, 'crashed-instance', 'PX', 1000); // another instance took the lock, then died
        const t0 = Date.now();
        const r = await http('GET', `${k2.url}/api/toggle`, { headers: { host: 'cdn.test' } });
        const ms = Date.now() - t0;
        assert.equal(r.status, 200);
        assert.match(r.headers['cache-status'], /^kvedge; fwd=uri-miss; fwd-status=200; stored$/);
        assert.ok(ms >= 500, `waited for the lock (${ms} ms)`);
        assert.ok(ms < 3000 * SLOW, `not past the lock's expiry by much (${ms} ms; coalesce_timeout is 5 s)`);
        assert.equal(seen(origin, '/toggle'), 2);
    } finally {
        assertCleanExit(await k1.stop());
        if (k2) assertCleanExit(await k2.stop());
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: hit-for-pass skips the store lookup (the uncacheable miss path costs no store round trip); a cacheable answer is stored and ends it', async () => {
    const redis = await startRedis();
    const origin = await startSlowOrigin(0);
    const k = await start(redis, origin, 1);
    const c = redis.client();
    const gets = async () => {
        const info = await c.info('commandstats');
        const calls = (cmd) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
        return calls('get') + calls('mget'); // a lookup is one MGET
    };
    try {
        const first = await http('GET', `${k.url}/api/toggle`);
        assert.match(first.headers['cache-status'], /^kvedge; fwd=uri-miss; fwd-status=200; detail=no-store$/);
        // the release (a script whose GET counts in commandstats) has run once the lock holds "pass"
        await waitFor(async () => {
            const [key] = await c.keys('kvc1:*:l');
            return key !== undefined && (await c.get(key)) === 'pass';
        }, { message: 'the pass is recorded' });
        const before = await gets();
        // remembered as a pass: forwarded without reading the store; the answer is cacheable now, so it is stored
        const second = await http('GET', `${k.url}/api/toggle`);
        assert.match(second.headers['cache-status'], /^kvedge; fwd=uri-miss; fwd-status=200; stored$/);
        assert.equal(await gets(), before, 'no GET reached the store for the passed request');
        // the store ended the pass: the next request looks up and hits
        await waitFor(async () => (await c.keys('kvc1:{*}:h')).length === 1, { message: 'the object is stored' });
        const third = await http('GET', `${k.url}/api/toggle`);
        assert.match(third.headers['cache-status'], /^kvedge; hit;/);
        assert.equal(third.body, 'toggle');
        assert.equal(seen(origin, '/toggle'), 2);
    } finally {
        c.disconnect();
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});
