// Issue 12, Redis Cluster: the cache's and the sessions' writes on a sharded store. A one-node Redis Cluster (one
// cluster-enabled redis-server serving all 16384 slots) is a real Cluster node: it refuses a MULTI/EXEC whose keys are
// in more than one slot, and a command or a script whose declared keys are (CROSSSLOT), as every node of a larger
// cluster does; and since it serves every slot, kvedge's standalone Redis link can talk to it without the cluster
// driver. KVEDGE_TEST_FORCE_SHARDED=1 (proxy/kv_internal.h, a test hook) makes every link say it is sharded
// (kve_kv_is_sharded), so the cache takes its Cluster path: the tag and route set entries first, then the object's
// one-slot atomic batch (handlers/cache_store.c). Without the hook the same fill is refused by the node (the first
// test: what this suite proves would fail without the split). Limit: a one-node cluster does not catch a script's
// undeclared key of another slot (it serves every slot); the sessions' scripts keep those under the user's tag
// (docs/scale-out.md, checked by tests/unit/test_cache_slots.c for the declared ones).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { assertCleanExit, freePort, http, startKvedge, startRedis, startUpstream, waitFor } from './harness.mjs';
import { get, objectKeys } from './cache_helpers.mjs';

const ADMIN = 'admin-token-0123456789';
const JWT_KEY = 'session-test-key-0123456789abcdef-0123456789';
const FORCE = { KVEDGE_TEST_FORCE_SHARDED: '1' };

let redis, client, origin;

/**
 * The origin (paths after the route prefix):
 *   /t/<x>?tags=<list>  200, max-age=300, Surrogate-Key: <list> (when given), body {path, n}
 *   /v                  200, max-age=300, Vary: Accept-Language, Surrogate-Key: lang
 *   /e/<x>              200, max-age=1, ETag "e1", Surrogate-Key: etag; If-None-Match "e1" gets 304 with max-age=300
 *   /h?<name>=<value>   200 with those response headers (the sessions' X-Session-* commands)
 */
function startOrigin() {
    const counters = new Map();
    return startUpstream((req, res) => {
        const u = new URL(req.url, 'http://origin');
        const n = (counters.get(u.pathname) ?? 0) + 1;
        counters.set(u.pathname, n);
        const send = (status, headers, body = '') => {
            res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
            res.end(body);
        };
        const tags = u.searchParams.get('tags');
        if (u.pathname.startsWith('/t/'))
            return send(200, { 'cache-control': 'max-age=300', ...(tags ? { 'surrogate-key': tags } : {}) }, JSON.stringify({ path: u.pathname, n }));
        if (u.pathname === '/v')
            return send(200, { 'cache-control': 'max-age=300', vary: 'Accept-Language', 'surrogate-key': 'lang' },
                JSON.stringify({ lang: req.headers['accept-language'] ?? null, n }));
        if (u.pathname.startsWith('/e/')) {
            if (req.headers['if-none-match'] === '"e1"') return send(304, { 'cache-control': 'max-age=300', etag: '"e1"' });
            return send(200, { 'cache-control': 'max-age=1', etag: '"e1"', 'surrogate-key': 'etag' }, JSON.stringify({ n }));
        }
        if (u.pathname === '/h') {
            const headers = { 'content-type': 'application/json', 'cache-control': 'no-store' };
            for (const [name, value] of u.searchParams) headers[name] = value;
            return send(200, headers, JSON.stringify({ session: req.headers['x-session-status'] ?? null }));
        }
        return send(404, {}, 'not found');
    });
}

before(async () => {
    const busPort = await freePort();
    redis = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort)] });
    client = redis.client();
    await client.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await waitFor(async () => /cluster_state:ok/.test(await client.call('CLUSTER', 'INFO')), { message: 'a one-node cluster serving every slot' });
    origin = await startOrigin();
});

after(async () => {
    await origin?.stop();
    await redis?.stop();
});

beforeEach(async () => {
    await client.flushall();
    origin.clear();
});

async function withKvedge(env, fn) {
    const k = await startKvedge({
        threads: 1,
        redis: redis.url,
        admin: { token: ADMIN },
        routes: [
            { path: '/api', upstream: `${origin.url}/`, cache: { store_timeout: '2s' } },
            { path: '/app', upstream: `${origin.url}/`, session: { mode: 'optional', write: true, jwt_key: JWT_KEY, store_timeout: '2s' } },
        ],
    }, { env });
    try {
        await fn(k);
    } finally {
        assertCleanExit(await k.stop());
    }
}

const seen = (path) => origin.requests.filter((r) => new URL(r.url, 'http://o').pathname === path).length;

/** GETs `path` until it is a hit (the store batches may still be on their way), returns the hit */
async function stored(k, path, headers = {}) {
    return waitFor(async () => {
        const r = await get(k, path, headers);
        assert.equal(r.status, 200);
        return /hit/.test(r.headers['cache-status']) ? r : null;
    }, { timeoutMs: 5000, message: `${path} stored` });
}

async function purged(k, query, n) {
    const r = await http('POST', `${k.adminUrl}purge?${query}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), { purged: n, soft: false });
}

const setKeys = async (kind) => (await client.keys(`kvc1:${kind}:{*`)).sort();

test('issue 12 cluster: without the split, a Cluster node refuses the cache\'s one atomic batch of an object and its set entries (CROSSSLOT): nothing is stored', async () => {
    await withKvedge({}, async (k) => {
        const first = await get(k, '/api/t/a?tags=x');
        assert.equal(first.status, 200);
        assert.match(first.headers['cache-status'], /stored/);
        // kvedge's next lookup runs after the store batch on the same link: it misses, the batch was refused
        for (let i = 0; i < 3; i++) {
            const r = await get(k, '/api/t/a?tags=x');
            assert.equal(r.status, 200);
            assert.doesNotMatch(r.headers['cache-status'], /hit/);
        }
        assert.deepEqual(await objectKeys(client), []);
        assert.deepEqual(await setKeys('t'), []);
        assert.equal(seen('/t/a'), 4);
    });
});

test('issue 12 cluster: on a sharded store a fill writes its set entries, then the object: hits, a tag purge and a route purge work on a Cluster node', async () => {
    await withKvedge(FORCE, async (k) => {
        const a = await get(k, '/api/t/a?tags=red%20common');
        assert.equal(a.status, 200);
        await stored(k, '/api/t/a?tags=red%20common');
        await get(k, '/api/t/b?tags=common');
        await stored(k, '/api/t/b?tags=common');
        await get(k, '/api/t/c');
        const hit = await stored(k, '/api/t/c');
        assert.deepEqual(JSON.parse(hit.body), { path: '/t/c', n: 1 });
        assert.equal(seen('/t/c'), 1);
        // the tag sets (red, common) and the route set: each a key of its own slot, holding the objects
        const tagSets = await setKeys('t');
        assert.equal(tagSets.length, 2);
        const members = await Promise.all(tagSets.map((s) => client.smembers(s)));
        assert.deepEqual(members.map((m) => m.length).sort(), [1, 2]);
        const routeSets = await setKeys('r');
        assert.equal(routeSets.length, 1);
        assert.equal((await client.smembers(routeSets[0])).length, 3);
        for (const s of [...tagSets, ...routeSets]) assert.ok((await client.pttl(s)) > 0, `${s} has a TTL`);

        await purged(k, 'tag=common', 2);
        assert.doesNotMatch((await get(k, '/api/t/a?tags=red%20common')).headers['cache-status'], /hit/);
        assert.equal(seen('/t/a'), 2);
        await stored(k, '/api/t/a?tags=red%20common');
        assert.match((await get(k, '/api/t/c')).headers['cache-status'], /hit/); // not tagged "common"

        await purged(k, 'route=/api', 2); // a (stored again) and c; b is gone already
        assert.doesNotMatch((await get(k, '/api/t/c')).headers['cache-status'], /hit/);
        assert.equal(seen('/t/c'), 2);
    });
});

test('issue 12 cluster: on a sharded store a Vary object (index, variant set) is stored, served and purged by URL and by tag; a revalidation extends its sets', async () => {
    await withKvedge(FORCE, async (k) => {
        for (const lang of ['en', 'fr']) {
            await get(k, '/api/v', { 'accept-language': lang });
            const r = await stored(k, '/api/v', { 'accept-language': lang });
            assert.equal(JSON.parse(r.body).lang, lang);
        }
        assert.equal(seen('/v'), 2);
        await purged(k, `url=${encodeURIComponent(`${k.url}/api/v`)}`, 2);
        assert.doesNotMatch((await get(k, '/api/v', { 'accept-language': 'en' })).headers['cache-status'], /hit/);
        await stored(k, '/api/v', { 'accept-language': 'en' });
        await purged(k, 'tag=lang', 1);

        // a 304 writes the head back with its set entries (the update's split)
        await get(k, '/api/e/1');
        await stored(k, '/api/e/1');
        const [etagSet] = await setKeys('t');
        const before = await client.pttl(etagSet);
        await new Promise((r) => setTimeout(r, 1200));
        const reval = await get(k, '/api/e/1');
        assert.equal(reval.status, 200);
        assert.match(reval.headers['cache-status'], /fwd-status=304; .*stored/);
        const hit = await stored(k, '/api/e/1');
        assert.deepEqual(JSON.parse(hit.body), { n: 1 });
        await waitFor(async () => (await client.pttl(etagSet)) > before + 100_000, { message: 'the tag set\'s TTL extended with the object\'s' });
        await purged(k, 'tag=etag', 1);
    });
});

test('issue 12 cluster: sessions on a Cluster node: login (from an anonymous session), set, rotate, logout all; every script\'s keys in the user\'s slot', async () => {
    await withKvedge(FORCE, async (k) => {
        const q = (o) => Object.entries(o).map(([n, v]) => `${n}=${encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v))}`).join('&');
        const cookieOf = (r) => {
            const c = [r.headers['set-cookie'] ?? []].flat().map((s) => /^__Host-sid=([^;]*)/.exec(s)?.[1]).filter((v) => v);
            assert.equal(c.length, 1, JSON.stringify(r.headers['set-cookie']));
            return c[0];
        };
        const send = (headers, handle) => http('GET', `${k.url}/app/h?${q(headers)}`, { headers: handle ? { cookie: `__Host-sid=${handle}` } : {} });

        const anon = cookieOf(await send({ 'x-session-set': { cart: 1 } }));
        const h1 = cookieOf(await send({ 'x-session-login': { sub: 'alice' } }, anon));
        assert.notEqual(h1, anon);
        const h2 = cookieOf(await send({ 'x-session-login': { sub: 'alice' } }));
        assert.equal(h1.slice(0, 11), h2.slice(0, 11), 'one user: one slot tag');
        assert.equal((await send({ 'x-session-set': { theme: 'dark' } }, h1)).status, 200);
        const h3 = cookieOf(await send({ 'x-session-rotate': '1' }, h1));
        assert.equal(h3.slice(0, 11), h1.slice(0, 11));
        const keyOf = (h) => `kvs1:{${h.slice(0, 11)}}:s:${crypto.createHash('sha256').update(h).digest('hex')}`;
        assert.equal(await client.exists(keyOf(anon)), 0, 'the login ended the anonymous session');
        assert.equal(await client.hget(keyOf(h3), 'd:theme'), '"dark"');
        const index = `kvs1:{${h1.slice(0, 11)}}:u:${Buffer.from('alice').toString('hex')}`;
        assert.equal(await client.zcard(index), 2);
        const out = await send({ 'x-session-logout': 'all' }, h3);
        assert.equal(out.status, 200);
        assert.equal(await client.exists(keyOf(h3), keyOf(h2), index), 0);
    });
});
