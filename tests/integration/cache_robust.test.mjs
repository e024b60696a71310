// Issue 8: the cache under concurrent load while its store is SIGSTOPped (no 5xx, answers within the store
// timeout plus the origin's time), and clients that leave while an object is being filled (the process stays up,
// the next client is served, and the ASan build exits clean: no use after free, no leak).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http_ from 'node:http';
import { assertCleanExit, SANITIZE, sleep, startKvedge, startRedis, startUpstream, waitFor } from './harness.mjs';
import { assertStatus, get, startCached, startOrigin } from './cache_helpers.mjs';

const SLOW = SANITIZE ? 3 : 1;

/** `n` GETs of `paths` (round robin) with `concurrency` in flight; the statuses and the slowest time */
async function load(k, paths, n, concurrency) {
    const statuses = {};
    let next = 0,
        slowest = 0;
    const worker = async () => {
        while (next < n) {
            const path = paths[next++ % paths.length];
            const t0 = Date.now();
            const r = await get(k, path).catch((e) => ({ status: `error ${e.message}` }));
            slowest = Math.max(slowest, Date.now() - t0);
            statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { statuses, slowest };
}

test('issue 8: 300 requests, 20 at a time, with the store SIGSTOPped half way: every one 200, none slower than the timeout allows', async () => {
    const redis = await startRedis();
    const origin = await startOrigin();
    const k = await startCached(redis, origin, { store_timeout: '150ms' });
    const paths = Array.from({ length: 10 }, (_, i) => `/api/fresh/load${i}`);
    try {
        const warm = await load(k, paths, 100, 20);
        assert.deepEqual(warm.statuses, { 200: 100 });
        await redis.kill('SIGSTOP');
        const stopped = await load(k, paths, 200, 20);
        assert.deepEqual(stopped.statuses, { 200: 200 }, 'no 5xx because of the store');
        assert.ok(stopped.slowest < 2000 * SLOW, `slowest answer ${stopped.slowest} ms`);
        assertStatus(await get(k, '/api/fresh/load0'), /fwd=bypass; fwd-status=200; detail=store-(timeout|unavailable)/);
    } finally {
        await redis.kill('SIGCONT').catch(() => {});
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: clients that leave while their response is being stored do not hurt the process or the next client', async () => {
    const redis = await startRedis();
    const origin = await startUpstream(async (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 2 * 65536 });
        res.write('a'.repeat(65536));
        await sleep(200);
        res.end('b'.repeat(65536));
    });
    const k = await startKvedge({ threads: 1, redis: redis.url, routes: [{ path: '/api', upstream: `${origin.url}/`, cache: {} }] });
    try {
        for (let i = 0; i < 10; i++) {
            await new Promise((resolve) => {
                const req = http_.get(`${k.url}/api/leave${i}`, (res) => {
                    res.once('data', () => {
                        req.destroy(); // gone after the first bytes, while the fill is half way
                        resolve();
                    });
                });
                req.on('error', resolve);
            });
        }
        await sleep(500);
        const r = await get(k, '/api/leave0');
        assert.equal(r.status, 200);
        assert.equal(r.body.length, 2 * 65536);
        await waitFor(async () => /hit/.test((await get(k, '/api/leave-whole')).headers['cache-status'] ?? ''), {
            timeoutMs: 5000,
            message: 'an object read whole is stored and hit',
        });
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});
