// Issue 8: examples/cache-api.yaml in front of examples/demo-api.mjs does what the example's comments say (the
// cacheable endpoints are hits the second time, the uncacheable ones are never stored, Cache-Status tells which), so
// `make run RUN_CONFIG=examples/cache-api.yaml` shows the cache. The file itself runs, with only its ports and its
// store replaced (a private redis-server instead of `redis: embedded`, free ports instead of 8080/8081).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { assertCleanExit, freePort, SOURCE_DIR, startKvedge, startRedis, waitFor } from './harness.mjs';
import { get } from './cache_helpers.mjs';

async function startDemo() {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(SOURCE_DIR, 'examples/demo-api.mjs')], {
        env: { ...process.env, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = [];
    child.stdout.on('data', (d) => lines.push(...d.toString().split('\n').filter(Boolean)));
    child.stderr.on('data', (d) => lines.push(...d.toString().split('\n').filter(Boolean)));
    await waitFor(() => lines.some((l) => l.startsWith('demo-api listening')), { message: 'the demo API listens' });
    const upstreamRequests = (p) => lines.filter((l) => l.includes(` GET ${p} `)).length; // from its request log
    return {
        url: `http://127.0.0.1:${port}/`,
        upstreamRequests,
        stop: () =>
            new Promise((resolve) => {
                if (child.exitCode !== null) return resolve();
                child.once('exit', resolve);
                child.kill('SIGTERM');
            }),
    };
}

const cs = (r) => r.headers['cache-status'] ?? '(none)';

test('issue 8: examples/cache-api.yaml with the demo API: cacheable endpoints hit, uncacheable ones are never stored, as its comments say', async () => {
    const redis = await startRedis();
    const demo = await startDemo();
    const port = await freePort();
    const yaml = fs.readFileSync(path.join(SOURCE_DIR, 'examples/cache-api.yaml'), 'utf8');
    assert.match(yaml, /port: 8080/);
    assert.match(yaml, /redis: embedded/);
    const config = yaml
        .replace(/port: 8080/, `port: ${port}`)
        .replaceAll('http://127.0.0.1:8081/', demo.url)
        .replace(/^redis: embedded.*$/m, `redis: "${redis.url}"`)
        .replace(/access_log: "-"/, 'access_log: ""');
    const k = await startKvedge(config, { port });
    try {
        // an item: stored, then a hit with a ttl
        assert.match(cs(await get(k, '/api/items/1')), /^kvedge; fwd=uri-miss; fwd-status=200; stored$/);
        await waitFor(async () => /^kvedge; hit; ttl=\d+$/.test(cs(await get(k, '/api/items/1'))), { message: 'items/1 is a hit' });
        // Vary: Accept-Language: one object per language
        assert.match(cs(await get(k, '/api/greeting', { 'accept-language': 'de' })), /stored/);
        const fr = await get(k, '/api/greeting', { 'accept-language': 'fr' });
        assert.match(cs(fr), /fwd=vary-miss.*stored/);
        assert.equal(JSON.parse(fr.body).greeting, 'Bonjour!');
        await waitFor(async () => /hit/.test(cs(await get(k, '/api/greeting', { 'accept-language': 'de' }))), { message: 'greeting de is a hit' });
        assert.equal(JSON.parse((await get(k, '/api/greeting', { 'accept-language': 'de' })).body).greeting, 'Hallo!');
        // key: query sorted, utm_* excluded
        assert.match(cs(await get(k, '/api/catalog?size=3&page=2&utm_source=x')), /stored/);
        // the store batch may still be on its way: wait with a third spelling (a miss there goes upstream as itself)
        await waitFor(async () => /hit/.test(cs(await get(k, '/api/catalog?utm_source=y&page=2&size=3'))), { message: 'the catalog page is stored' });
        assert.match(cs(await get(k, '/api/catalog?page=2&size=3')), /hit/, 'the catalog page is one object');
        await waitFor(() => demo.upstreamRequests('/catalog?size=3&page=2&utm_source=x') === 1, { message: 'the demo logged the catalog request' });
        assert.equal(demo.upstreamRequests('/catalog?page=2&size=3'), 0);
        // a conditional request answered from the cache
        const c304 = await get(k, '/api/catalog?page=2&size=3', { 'if-none-match': '"c-2-3"' });
        assert.equal(c304.status, 304);
        assert.match(cs(c304), /hit/);
        // uncacheable: every request upstream, Cache-Status says why
        for (const [p, why] of [['/me', 'no-store'], ['/login', 'set-cookie'], ['/random', 'no-freshness']]) {
            const a = await get(k, `/api${p}`);
            assert.equal(a.status, 200);
            assert.match(cs(a), new RegExp(`^kvedge; fwd=uri-miss; fwd-status=200; detail=${why}$`), p);
            assert.match(cs(await get(k, `/api${p}`)), /fwd=uri-miss/, p);
            // the demo logs each request when its answer is finished: the log line can trail the answer
            await waitFor(() => demo.upstreamRequests(p) === 2, { message: `2 requests for ${p} reached the demo` });
        }
        // the login's cookie reached its client, and nobody else's /me is anyone's but their own
        const login = await get(k, '/api/login');
        assert.match(login.headers['set-cookie']?.[0] ?? '', /^session=[0-9a-f]{16};/);
        const me = await get(k, '/api/me', { cookie: 'session=abc' });
        assert.equal(JSON.parse(me.body).user, 'user-abc');
        assert.equal(JSON.parse((await get(k, '/api/me')).body).user, 'anonymous');
        // the route without cache:
        const raw = await get(k, '/raw/items/1');
        assert.equal(raw.status, 200);
        assert.equal(raw.headers['cache-status'], undefined);
    } finally {
        assertCleanExit(await k.stop());
        await demo.stop();
        await redis.stop();
    }
});
