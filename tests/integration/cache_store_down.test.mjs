// Issue 8: the cache's store down or slow past store_timeout. The request goes upstream and is answered, with
// Cache-Status saying why (fwd=bypass; detail=store-unavailable / store-timeout); nothing fails because of the
// cache, and caching resumes once the store is back. A real redis-server, stopped and SIGSTOPped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, SANITIZE, sleep, startRedis, waitFor } from './harness.mjs';
import { assertStatus, get, seen, startCached, startOrigin } from './cache_helpers.mjs';

const SLOW = SANITIZE ? 3 : 1;

test('issue 8: the store SIGSTOPped: lookups give up after store_timeout and go upstream; caching resumes after SIGCONT', async () => {
    const redis = await startRedis();
    const origin = await startOrigin();
    const k = await startCached(redis, origin, { store_timeout: '200ms' });
    try {
        assertStatus(await get(k, '/api/fresh/a'), /stored/);
        assertStatus(await get(k, '/api/fresh/a'), /hit/);
        await redis.kill('SIGSTOP');
        for (let i = 0; i < 5; i++) {
            const t0 = Date.now();
            const r = await get(k, `/api/fresh/s${i}`);
            const ms = Date.now() - t0;
            assert.equal(r.status, 200, r.body);
            assertStatus(r, /^kvedge; fwd=bypass; fwd-status=200; detail=store-(timeout|unavailable)$/);
            assert.ok(ms < 1000 * SLOW, `answered in ${ms} ms`);
        }
        assert.equal(seen(origin, '/fresh/s0'), 1);
        await redis.kill('SIGCONT');
        await waitFor(async () => /hit/.test((await get(k, '/api/fresh/a')).headers['cache-status']), {
            timeoutMs: 10_000,
            message: 'hits again after SIGCONT',
        });
    } finally {
        await redis.kill('SIGCONT').catch(() => {});
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});

test('issue 8: the store stopped: every request is answered from upstream (no 5xx), then cached again after a restart', async () => {
    const redis = await startRedis();
    const origin = await startOrigin();
    const k = await startCached(redis, origin, { store_timeout: '200ms' });
    try {
        assertStatus(await get(k, '/api/fresh/b'), /stored/);
        await redis.stop();
        for (let i = 0; i < 10; i++) {
            const r = await get(k, '/api/fresh/b');
            assert.equal(r.status, 200, r.body);
            assertStatus(r, /^kvedge; fwd=bypass; fwd-status=200; detail=store-(timeout|unavailable)$/);
            await sleep(20);
        }
        assert.equal(seen(origin, '/fresh/b'), 11);
        await redis.restart();
        await waitFor(async () => /stored|hit/.test((await get(k, '/api/fresh/b')).headers['cache-status']), {
            timeoutMs: 10_000,
            message: 'stores again after the restart',
        });
        assertStatus(await get(k, '/api/fresh/b'), /hit/);
    } finally {
        assertCleanExit(await k.stop());
        await origin.stop();
        await redis.stop();
    }
});
