// Issue 8: the route's key rules (cache.key) reach the handler: a sorted query without excluded parameters, request
// header fields in the key, and `cache: true` as the shorthand for a cached route with every default.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, startKvedge, startRedis } from './harness.mjs';
import { assertStatus, get, seen, startCached, startOrigin } from './cache_helpers.mjs';

let redis, origin;

before(async () => {
    redis = await startRedis();
    origin = await startOrigin();
});

after(async () => {
    await origin?.stop();
    await redis?.stop();
});

test('issue 8: key.query sorted with exclude_query: reordered parameters and utm_* share one object', async () => {
    const k = await startCached(redis, origin, { key: { query: 'sorted', exclude_query: ['utm_*'] } });
    try {
        assertStatus(await get(k, '/api/fresh/q?b=2&a=1&utm_source=mail'), /stored/);
        assertStatus(await get(k, '/api/fresh/q?a=1&b=2'), /hit/);
        assertStatus(await get(k, '/api/fresh/q?a=1&b=2&utm_medium=x'), /hit/);
        assertStatus(await get(k, '/api/fresh/q?a=1&b=3'), /fwd=uri-miss/);
        assert.equal(origin.requests.filter((r) => r.url.startsWith('/fresh/q')).length, 2);
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 8: key.headers: a request field in the key separates objects; cache: true caches with the defaults', async () => {
    const k = await startKvedge({
        threads: 1,
        redis: redis.url,
        routes: [
            { path: '/api', upstream: `${origin.url}/`, cache: { key: { headers: ['X-Tenant'] } } },
            { path: '/short', upstream: `${origin.url}/`, cache: true },
        ],
    });
    try {
        assertStatus(await get(k, '/api/fresh/t', { 'x-tenant': 'a' }), /stored/);
        assertStatus(await get(k, '/api/fresh/t', { 'x-tenant': 'b' }), /fwd=uri-miss/);
        assertStatus(await get(k, '/api/fresh/t'), /fwd=uri-miss/);
        assertStatus(await get(k, '/api/fresh/t', { 'x-tenant': 'a' }), /hit/);
        assert.equal(seen(origin, '/fresh/t'), 3);
        assertStatus(await get(k, '/short/fresh/t2'), /stored/);
        assertStatus(await get(k, '/short/fresh/t2'), /hit/);
    } finally {
        assertCleanExit(await k.stop());
    }
});
