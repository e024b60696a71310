// Shared by the issue 12 suites of the cache and the sessions on a sharded store (cache_cluster_split.test.mjs: a
// one-node Redis Cluster through the standalone link; cache_cluster.test.mjs: the fixture of 3 primaries through the
// cluster driver). A store handle hides where keys live: keys(pattern) asks every primary, cmd is a client that
// reaches any key. The scenarios check what the cache and the sessions write and that fills, hits and purges work.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { HOST, assertCleanExit, freePort, http, startKvedge, startRedis, startUpstream, waitFor } from './harness.mjs';
import { startCluster } from './topology.mjs';

const require = createRequire(import.meta.url);
export const ADMIN = 'admin-token-0123456789';
const RW = 'kv-rw-token-0123456789';
const JWT_KEY = 'session-test-key-0123456789abcdef-0123456789';
/** The same store reached through the cluster driver (`cluster: {nodes}`: a sharded link), not as one Redis. */
export const asCluster = (store) => ({ ...store, redis: store.clusterRedis });

/** One cluster-enabled redis-server serving all 16384 slots: a real node's slot checks, no MOVED ever. */
export async function oneNodeCluster() {
    const busPort = await freePort();
    const redis = await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(busPort)] });
    const client = redis.client();
    await client.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await waitFor(async () => /cluster_state:ok/.test(await client.call('CLUSTER', 'INFO')), { message: 'a one-node cluster serving every slot' });
    return { redis: redis.url, clusterRedis: { cluster: { nodes: [`${HOST}:${redis.port}`] } }, cmd: client, keys: (p) => client.keys(p), nodesWith: async (p) => ((await client.keys(p)).length ? 1 : 0),
        flush: () => client.flushall(), stop: () => redis.stop() };
}

/** The fixture (3 primaries, no replicas) as a `cluster: {nodes}` store. */
export async function threeNodeCluster() {
    const c = await startCluster({ replicasPerPrimary: 0 });
    const Redis = require('ioredis');
    const cmd = new Redis.Cluster(c.addresses.map((a) => ({ host: HOST, port: Number(a.split(':')[1]) })), { redisOptions: { maxRetriesPerRequest: 2 } });
    cmd.on('error', () => {});
    return {
        redis: { cluster: { nodes: c.addresses.slice(0, 2) } },
        cmd,
        keys: async (p) => (await Promise.all(c.clients.map((n) => n.keys(p)))).flat(),
        /** how many primaries hold a key matching `p` */
        nodesWith: async (p) => (await Promise.all(c.clients.map((n) => n.keys(p)))).filter((keys) => keys.length !== 0).length,
        flush: () => Promise.all(c.clients.map((n) => n.flushall())),
        stop: async () => {
            cmd.disconnect();
            await c.stop();
        },
    };
}

/**
 * The origin (paths after the route prefix):
 *   /t/<x>?tags=<list>  200, max-age=300, Surrogate-Key: <list> (when given), body {path, n}
 *   /v                  200, max-age=300, Vary: Accept-Language, Surrogate-Key: lang
 *   /e/<x>              200, max-age=1, ETag "e1", Surrogate-Key: etag; If-None-Match "e1" gets 304 with max-age=300
 *   /h?<name>=<value>   200 with those response headers (the sessions' X-Session-* commands)
 */
export function startOrigin() {
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

/** kvedge with the cached route /api and the session route /app on `store`, `env` its environment; runs fn(k). */
export async function withKvedge(store, origin, env, fn) {
    const k = await startKvedge({
        threads: 1,
        redis: store.redis,
        admin: { token: ADMIN },
        kv: { tokens: [{ token: RW }] },
        routes: [
            { path: '/api', upstream: `${origin.url}/`, cache: { store_timeout: '2s' } },
            { path: '/app', upstream: `${origin.url}/`, session: { mode: 'optional', write: true, jwt_key: JWT_KEY, store_timeout: '2s' } },
        ],
    }, { env });
    try {
        // the store is usable (a cluster store once its first slot map came)
        await waitFor(async () => (await http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW}` }, body: '["PING"]' })).status === 200,
            { timeoutMs: 5000, message: 'the store answers' });
        await fn(k);
    } finally {
        assertCleanExit(await k.stop());
    }
}

export const get = (k, path, headers = {}) => http('GET', `${k.url}${path}`, { headers });
const seen = (origin, path) => origin.requests.filter((r) => new URL(r.url, 'http://o').pathname === path).length;

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

/** Object keys (head, body, index, variant set; not the locks) */
export const objectKeys = async (store) => (await store.keys('kvc1:{*')).filter((key) => !/:[lr]$/.test(key));
const setKeys = async (store, kind) => (await store.keys(`kvc1:${kind}:{*`)).sort();

/** Without the split: the fill's one atomic batch is refused (CROSSSLOT), nothing is stored, every request misses. */
export async function refusedFill(store, origin, k) {
    const first = await get(k, '/api/t/a?tags=x');
    assert.equal(first.status, 200);
    assert.match(first.headers['cache-status'], /stored/);
    // kvedge's next lookup of that URL runs after the store batch (same link, same slot): it misses, the batch was refused
    for (let i = 0; i < 3; i++) {
        const r = await get(k, '/api/t/a?tags=x');
        assert.equal(r.status, 200);
        assert.doesNotMatch(r.headers['cache-status'], /hit/);
    }
    assert.deepEqual(await objectKeys(store), []);
    assert.deepEqual(await setKeys(store, 't'), []);
    assert.equal(seen(origin, '/t/a'), 4);
}

/** Fills, hits, the tag and route sets, a tag purge and a route purge. */
export async function fillHitPurge(store, origin, k) {
    await get(k, '/api/t/a?tags=red%20common');
    await stored(k, '/api/t/a?tags=red%20common');
    await get(k, '/api/t/b?tags=common');
    await stored(k, '/api/t/b?tags=common');
    await get(k, '/api/t/c');
    const hit = await stored(k, '/api/t/c');
    assert.deepEqual(JSON.parse(hit.body), { path: '/t/c', n: 1 });
    assert.equal(seen(origin, '/t/c'), 1);
    // the tag sets (red, common) and the route set: each a key of its own slot, holding the objects
    const tagSets = await setKeys(store, 't');
    assert.equal(tagSets.length, 2);
    const members = await Promise.all(tagSets.map((s) => store.cmd.smembers(s)));
    assert.deepEqual(members.map((m) => m.length).sort(), [1, 2]);
    const routeSets = await setKeys(store, 'r');
    assert.equal(routeSets.length, 1);
    assert.equal((await store.cmd.smembers(routeSets[0])).length, 3);
    for (const s of [...tagSets, ...routeSets]) assert.ok((await store.cmd.pttl(s)) > 0, `${s} has a TTL`);
    store.spread = await store.nodesWith('kvc1:*'); // the caller checks it (3 on the fixture with these keys)

    await purged(k, 'tag=common', 2);
    assert.doesNotMatch((await get(k, '/api/t/a?tags=red%20common')).headers['cache-status'], /hit/);
    assert.equal(seen(origin, '/t/a'), 2);
    await stored(k, '/api/t/a?tags=red%20common');
    assert.match((await get(k, '/api/t/c')).headers['cache-status'], /hit/); // not tagged "common"

    await purged(k, 'route=/api', 2); // a (stored again) and c; b is gone already
    assert.doesNotMatch((await get(k, '/api/t/c')).headers['cache-status'], /hit/);
    assert.equal(seen(origin, '/t/c'), 2);
}

/** A Vary object: stored, served, purged by URL and by tag; a revalidation's head update extends its sets. */
export async function varyAndRevalidate(store, origin, k) {
    for (const lang of ['en', 'fr']) {
        await get(k, '/api/v', { 'accept-language': lang });
        const r = await stored(k, '/api/v', { 'accept-language': lang });
        assert.equal(JSON.parse(r.body).lang, lang);
    }
    assert.equal(seen(origin, '/v'), 2);
    await purged(k, `url=${encodeURIComponent(`${k.url}/api/v`)}`, 2);
    assert.doesNotMatch((await get(k, '/api/v', { 'accept-language': 'en' })).headers['cache-status'], /hit/);
    await stored(k, '/api/v', { 'accept-language': 'en' });
    await purged(k, 'tag=lang', 1);

    await get(k, '/api/e/1');
    await stored(k, '/api/e/1');
    const [etagSet] = await setKeys(store, 't');
    const before = await store.cmd.pttl(etagSet);
    await new Promise((r) => setTimeout(r, 1200));
    const reval = await get(k, '/api/e/1');
    assert.equal(reval.status, 200);
    assert.match(reval.headers['cache-status'], /fwd-status=304; .*stored/);
    const hit = await stored(k, '/api/e/1');
    assert.deepEqual(JSON.parse(hit.body), { n: 1 });
    await waitFor(async () => (await store.cmd.pttl(etagSet)) > before + 100_000, { message: 'the tag set\'s TTL extended with the object\'s' });
    await purged(k, 'tag=etag', 1);
}

/** Sessions: login from an anonymous session, set, a second login, rotate, logout all. */
export async function sessions(store, origin, k) {
    const q = (o) => Object.entries(o).map(([n, v]) => `${n}=${encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v))}`).join('&');
    const cookieOf = (r) => {
        const c = [r.headers['set-cookie'] ?? []].flat().map((s) => /^__Host-sid=([^;]*)/.exec(s)?.[1]).filter((v) => v);
        assert.equal(c.length, 1, JSON.stringify(r.headers['set-cookie']));
        return c[0];
    };
    const send = (headers, handle) => http('GET', `${k.url}/app/h?${q(headers)}`, { headers: handle ? { cookie: `__Host-sid=${handle}` } : {} });
    const keyOf = (h) => `kvs1:{${h.slice(0, 11)}}:s:${crypto.createHash('sha256').update(h).digest('hex')}`;

    const anon = cookieOf(await send({ 'x-session-set': { cart: 1 } }));
    const h1 = cookieOf(await send({ 'x-session-login': { sub: 'alice' } }, anon));
    assert.notEqual(h1, anon);
    const h2 = cookieOf(await send({ 'x-session-login': { sub: 'alice' } }));
    assert.equal(h1.slice(0, 11), h2.slice(0, 11), 'one user: one slot tag');
    assert.equal((await send({ 'x-session-set': { theme: 'dark' } }, h1)).status, 200);
    const h3 = cookieOf(await send({ 'x-session-rotate': '1' }, h1));
    assert.equal(h3.slice(0, 11), h1.slice(0, 11));
    assert.equal(await store.cmd.exists(keyOf(anon)), 0, 'the login ended the anonymous session');
    assert.equal(await store.cmd.hget(keyOf(h3), 'd:theme'), '"dark"');
    const index = `kvs1:{${h1.slice(0, 11)}}:u:${Buffer.from('alice').toString('hex')}`;
    assert.equal(await store.cmd.zcard(index), 2);
    assert.equal((await send({ 'x-session-logout': 'all' }, h3)).status, 200);
    for (const key of [keyOf(h3), keyOf(h2), index]) assert.equal(await store.cmd.exists(key), 0, key);
}
