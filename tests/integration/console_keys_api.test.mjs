// Issue 13, the web console's keys page at the HTTP level (handlers/console_kv*.c; docs/console.md, Keys): SCAN paging,
// a view and the edits of every type, binary bytes both ways, truncation, TTL, delete with the key named, read-only
// sessions refused on every change, CSRF and Origin, key names with odd bytes, limits, and a store that is down.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, http, startKvedge, startRedis, waitFor } from './harness.mjs';

const ADMIN = 'keys-admin-token-5d1c0e9a77b2';
const READ_ONLY = 'keys-readonly-token-a04f6b3c19';
const KV_TOKEN = 'keys-kv-token-e7a1b2c3d4';

let central, other, k, rw, ro, rc;

before(async () => {
    central = await startRedis();
    other = await startRedis();
    k = await startKvedge({
        threads: 2,
        redis: other.url,
        stores: { central: central.url },
        admin: { token: ADMIN, read_only_token: READ_ONLY, console: { enabled: true, path: '/ui' } },
        kv: { path: '/kv', store: 'central', tokens: [{ token: KV_TOKEN }] },
    }, { waitReady: true });
    rc = central.client();
    rw = await session(ADMIN);
    ro = await session(READ_ONLY);
});

after(async () => {
    if (k) assertCleanExit(await k.stop());
    await central?.stop();
    await other?.stop();
});

async function session(token) {
    const r = await http('POST', `${k.url}/ui/login`, {
        body: `token=${encodeURIComponent(token)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: k.url },
    });
    assert.equal(r.status, 303, r.body);
    const cookie = r.headers['set-cookie'][0].split(';')[0];
    const s = JSON.parse((await http('GET', `${k.url}/ui/api/session`, { headers: { cookie } })).body);
    return { cookie, csrf: s.csrf };
}

// every byte %XX: the API takes any byte (NUL, non-UTF-8) this way
const pct = (v) => [...(Buffer.isBuffer(v) ? v : Buffer.from(String(v)))].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
const form = (fields) => Object.entries(fields).filter(([, v]) => v !== undefined).map(([n, v]) => `${n}=${pct(v)}`).join('&');
// an API byte string -> Buffer
const bytes = (v) => (typeof v === 'string' ? Buffer.from(v) : v.base64 !== undefined ? Buffer.from(v.base64, 'base64') : Buffer.from(v.text));

async function get(what, params, s = rw) {
    const r = await http('GET', `${k.url}/ui/api/kv/${what}?${form(params)}`, { headers: { cookie: s.cookie } });
    return { status: r.status, body: JSON.parse(r.body) };
}

async function change(op, fields, s = rw, headers = {}) {
    const r = await http('POST', `${k.url}/ui/api/kv/change`, {
        body: form({ op, ...fields }),
        headers: { cookie: s.cookie, 'x-console-csrf': s.csrf, origin: k.url, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });
    return { status: r.status, body: JSON.parse(r.body) };
}

async function ok(op, fields, s = rw) {
    const r = await change(op, fields, s);
    assert.equal(r.status, 200, `${op}: ${JSON.stringify(r.body)}`);
    return r.body.result;
}

async function view(key, params = {}) {
    const r = await get('key', { key, ...params });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
}

// every key matching `pattern` (SCAN filters each page: a page may hold none)
async function scanAll(pattern, s = rw) {
    const keys = [];
    let cursor = '0';
    do {
        const r = await get('keys', { pattern, cursor, count: 1000 }, s);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        keys.push(...r.body.keys);
        cursor = r.body.cursor;
    } while (cursor !== null);
    return keys;
}

// every page of a key's contents
async function allItems(key, count) {
    const items = [];
    let cursor, pages = 0;
    do {
        const v = await view(key, { count, cursor });
        items.push(...v.items);
        cursor = v.next ?? undefined;
        pages++;
    } while (cursor !== undefined && pages < 100);
    return { items, pages };
}

test('issue 13 console keys: the stores, the KV API\'s first, with the limits', async () => {
    const r = await get('stores', {});
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.stores, [{ name: 'default', kv: false }, { name: 'central', kv: true }]);
    assert.equal(r.body.default, 'central');
    assert.equal(r.body.read_only, false);
    assert.deepEqual(r.body.limits, { max_key: 8192, max_value: 524288, show: 65536, max_count: 1000, max_pairs: 32 });
    assert.equal((await get('stores', {}, ro)).body.read_only, true);
    assert.equal((await get('keys', { store: 'nope' })).status, 404);
});

test('issue 13 console keys: SCAN pages through 250 keys with a pattern (cursor paging), each with its type and TTL', async () => {
    const p = rc.pipeline();
    for (let i = 0; i < 250; i++) p.set(`page:${i}`, `v${i}`);
    p.pexpire('page:7', 90_000);
    p.hset('page:hash', 'f', 'v');
    p.set('other:1', 'x');
    await p.exec();
    const seen = new Map();
    let cursor = '0', pages = 0;
    do {
        const r = await get('keys', { pattern: 'page:*', cursor, count: 40 });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.store, 'central');
        for (const key of r.body.keys) seen.set(key.key, key);
        cursor = r.body.cursor;
        pages++;
    } while (cursor !== null && pages < 200);
    assert.ok(pages > 1, `pages ${pages}`);
    assert.equal(seen.size, 251);
    assert.ok(!seen.has('other:1'));
    assert.deepEqual(seen.get('page:3'), { key: 'page:3', type: 'string', ttl_ms: -1 });
    assert.equal(seen.get('page:hash').type, 'hash');
    assert.ok(seen.get('page:7').ttl_ms > 80_000 && seen.get('page:7').ttl_ms <= 90_000);
    // the type filter (SCAN ... TYPE)
    const hashes = [];
    cursor = '0';
    do {
        const r = await get('keys', { pattern: 'page:*', cursor, count: 1000, type: 'hash' });
        hashes.push(...r.body.keys.map((x) => x.key));
        cursor = r.body.cursor;
    } while (cursor !== null);
    assert.deepEqual(hashes, ['page:hash']);
    // the other store is its own data
    const d = await get('keys', { store: 'default', pattern: 'page:*', count: 1000 });
    assert.deepEqual([d.body.store, d.body.keys, d.body.cursor], ['default', [], null]);
    // never KEYS
    const stats = await rc.info('commandstats');
    assert.match(stats, /cmdstat_scan:/);
    assert.doesNotMatch(stats, /cmdstat_keys:/);
});

test('issue 13 console keys: strings: create (409 when it exists), view, edit keeping the TTL', async () => {
    assert.equal(await ok('set', { key: 's:1', value: 'hello', create: 1 }), 'OK');
    const again = await change('set', { key: 's:1', value: 'x', create: 1 });
    assert.equal(again.status, 409);
    assert.match(again.body.error, /exists/);
    await rc.pexpire('s:1', 120_000);
    assert.equal(await ok('set', { key: 's:1', value: 'world' }), 'OK');
    const v = await view('s:1');
    assert.equal(v.type, 'string');
    assert.equal(v.value, 'world');
    assert.equal(v.length, 5);
    assert.ok(v.ttl_ms > 100_000, `ttl ${v.ttl_ms}`); // KEEPTTL
    assert.equal(await rc.get('s:1'), 'world');
    assert.equal((await get('key', { key: 's:none' })).status, 404);
});

test('issue 13 console keys: hashes: create, HSET, HDEL, and HSCAN paging through 700 fields', async () => {
    assert.equal(await ok('hset', { key: 'h:1', field: 'a', value: '1', create: 1 }), 1);
    assert.equal((await change('hset', { key: 'h:1', field: 'b', value: '2', create: 1 })).status, 409);
    assert.equal(await ok('hset', { key: 'h:1', field: 'b', value: '2' }), 1);
    assert.equal(await ok('hset', { key: 'h:1', field: 'a', value: 'one' }), 0);
    assert.equal(await ok('hdel', { key: 'h:1', field: 'b' }), 1);
    const v = await view('h:1');
    assert.equal(v.type, 'hash');
    assert.equal(v.length, 1);
    assert.deepEqual(v.items, [['a', 'one']]);
    assert.deepEqual(await rc.hgetall('h:1'), { a: 'one' });
    const big = {};
    for (let i = 0; i < 700; i++) big[`f${i}`] = `v${i}`; // above hash-max-listpack-entries: HSCAN pages
    await rc.hset('h:big', big);
    const { items, pages } = await allItems('h:big', 50);
    assert.ok(pages > 1);
    assert.deepEqual(Object.fromEntries(items), big);
    // a write on the wrong type is the store's refusal, with its text
    const wrong = await change('hset', { key: 's:1', field: 'a', value: 'b' });
    assert.equal(wrong.status, 409);
    assert.match(wrong.body.error, /WRONGTYPE/);
});

test('issue 13 console keys: lists: create, RPUSH, LSET, LREM, and LRANGE paging', async () => {
    assert.equal(await ok('rpush', { key: 'l:1', value: 'a', create: 1 }), 1);
    assert.equal(await ok('rpush', { key: 'l:1', value: 'b' }), 2);
    assert.equal(await ok('rpush', { key: 'l:1', value: 'c' }), 3);
    assert.equal(await ok('lset', { key: 'l:1', index: 1, value: 'B' }), 'OK');
    assert.equal(await ok('lrem', { key: 'l:1', value: 'a' }), 1);
    assert.deepEqual(await rc.lrange('l:1', 0, -1), ['B', 'c']);
    const v = await view('l:1');
    assert.deepEqual([v.type, v.length, v.items, v.cursor, v.next], ['list', 2, ['B', 'c'], '0', null]);
    assert.equal((await change('lset', { key: 'l:1', index: 9, value: 'x' })).status, 409); // out of range
    assert.equal((await change('lset', { key: 'l:1', index: 'x', value: 'x' })).status, 400);
    await rc.rpush('l:big', ...Array.from({ length: 250 }, (_, i) => `e${i}`));
    const { items, pages } = await allItems('l:big', 100);
    assert.equal(pages, 3);
    assert.deepEqual(items, Array.from({ length: 250 }, (_, i) => `e${i}`));
});

test('issue 13 console keys: sets: create, SADD, SREM, and SSCAN paging', async () => {
    assert.equal(await ok('sadd', { key: 'set:1', member: 'x', create: 1 }), 1);
    assert.equal(await ok('sadd', { key: 'set:1', member: 'y' }), 1);
    assert.equal(await ok('srem', { key: 'set:1', member: 'x' }), 1);
    assert.deepEqual(await rc.smembers('set:1'), ['y']);
    assert.deepEqual((await view('set:1')).items, ['y']);
    await rc.sadd('set:big', ...Array.from({ length: 300 }, (_, i) => `m${i}`));
    const { items, pages } = await allItems('set:big', 50);
    assert.ok(pages > 1);
    assert.equal(new Set(items).size, 300);
});

test('issue 13 console keys: sorted sets: create, ZADD (scores checked), ZREM, ordered ZRANGE paging', async () => {
    assert.equal(await ok('zadd', { key: 'z:1', member: 'b', score: '2', create: 1 }), 1);
    assert.equal(await ok('zadd', { key: 'z:1', member: 'a', score: '-1.5e0' }), 1);
    assert.equal(await ok('zadd', { key: 'z:1', member: 'c', score: 'inf' }), 1);
    assert.equal(await ok('zrem', { key: 'z:1', member: 'b' }), 1);
    for (const bad of ['nan', '1x', '', ' 1', '0x10']) assert.equal((await change('zadd', { key: 'z:1', member: 'q', score: bad })).status, 400, bad);
    const v = await view('z:1');
    assert.deepEqual(v.items, [['a', '-1.5'], ['c', 'inf']]);
    await rc.zadd('z:big', ...Array.from({ length: 250 }, (_, i) => [i, `m${i}`]).flat());
    const { items, pages } = await allItems('z:big', 100);
    assert.equal(pages, 3);
    assert.deepEqual(items.map(([m]) => m), Array.from({ length: 250 }, (_, i) => `m${i}`));
});

test('issue 13 console keys: streams: create, XADD with several fields, XDEL, XRANGE paging by id', async () => {
    const id = await ok('xadd', { key: 'x:1', f0: 'temp', v0: '21', f1: 'unit', v1: 'C', create: 1 });
    assert.match(id, /^\d+-\d+$/);
    const id2 = await ok('xadd', { key: 'x:1', f0: 'temp', v0: '22' });
    assert.equal(await ok('xdel', { key: 'x:1', id }), 1);
    assert.equal((await change('xdel', { key: 'x:1', id: '12' })).status, 400);
    assert.equal((await change('xadd', { key: 'x:1' })).status, 400);
    const v = await view('x:1');
    assert.deepEqual(v.items, [{ id: id2, fields: [['temp', '22']] }]);
    for (let i = 0; i < 250; i++) await rc.xadd('x:big', '*', 'n', String(i));
    const { items, pages } = await allItems('x:big', 100);
    assert.equal(pages, 3);
    assert.deepEqual(items.map((e) => e.fields[0][1]), Array.from({ length: 250 }, (_, i) => String(i)));
});

test('issue 13 console keys: binary keys and values round-trip byte for byte, shown as base64 (not UTF-8)', async () => {
    const key = Buffer.from([0x62, 0x69, 0x6e, 0x00, 0xff, 0xfe, 0x80, 0x0a]);
    const value = Buffer.from([0x00, 0x01, 0xc3, 0x28, 0xff, 0x3c, 0x73, 0x3e]);
    assert.equal(await ok('set', { key, value, create: 1 }), 'OK');
    assert.deepEqual(await rc.getBuffer(key), value);
    const v = await view(key);
    assert.deepEqual(v.value, { base64: value.toString('base64'), length: 8, truncated: false });
    assert.deepEqual(bytes(v.key), key);
    await ok('hset', { key: 'bin:h', field: value, value: key });
    assert.deepEqual(await rc.hgetBuffer('bin:h', value), key);
    const h = await view('bin:h');
    assert.deepEqual(h.items.map(([f, x]) => [bytes(f), bytes(x)]), [[value, key]]);
    // valid UTF-8 with a NUL and controls stays text
    await ok('set', { key: 'text:nul', value: 'a\u0000b\n\u00e9' });
    assert.equal((await view('text:nul')).value, 'a\u0000b\n\u00e9');
});

test('issue 13 console keys: large values are truncated at 64 KiB with the full length; the limits on what the client sends', async () => {
    await rc.set('big:text', '€'.repeat(30_000)); // 90,000 bytes of 3-byte characters: the cut at 65,536 falls inside one
    const t = await view('big:text');
    assert.equal(t.value.truncated, true);
    assert.equal(t.value.length, 90_000);
    assert.ok(t.value.text === '€'.repeat(21_845), `text of ${t.value.text.length} characters`);
    const bin = Buffer.alloc(70_000, 0xff);
    await rc.set('big:bin', bin);
    const b = await view('big:bin');
    assert.deepEqual([b.value.truncated, b.value.length, Buffer.from(b.value.base64, 'base64').length], [true, 70_000, 65_536]);
    await rc.hset('big:hash', 'f', 'x'.repeat(70_000));
    const h = await view('big:hash');
    assert.deepEqual([h.items[0][1].truncated, h.items[0][1].length, h.items[0][1].text.length], [true, 70_000, 65_536]);
    // limits
    assert.equal((await change('set', { key: 'big:x', value: 'x'.repeat(512 * 1024 + 1) })).status, 400);
    assert.equal(await ok('set', { key: 'big:x', value: 'x'.repeat(512 * 1024) }), 'OK');
    assert.equal((await change('set', { key: 'k'.repeat(8193), value: 'x' })).status, 400);
    assert.equal((await get('keys', { count: 1001 })).status, 400);
    assert.equal((await get('keys', { count: 0 })).status, 400);
    assert.equal((await get('keys', { cursor: '12a' })).status, 400);
    assert.equal((await get('keys', { type: 'bogus' })).status, 400);
    assert.equal((await get('key', {})).status, 400);
    const twice = await http('GET', `${k.url}/ui/api/kv/key?key=a&key=b`, { headers: { cookie: rw.cookie } });
    assert.equal(twice.status, 400);
    assert.equal((await http('GET', `${k.url}/ui/api/kv/key?key=%zz`, { headers: { cookie: rw.cookie } })).status, 400);
});

test('issue 13 console keys: the TTL is shown and set (PEXPIRE) and removed (PERSIST)', async () => {
    await rc.set('ttl:1', 'v');
    assert.equal((await view('ttl:1')).ttl_ms, -1);
    assert.equal(await ok('expire', { key: 'ttl:1', ttl_ms: 300_000 }), 1);
    const pttl = await rc.pttl('ttl:1');
    assert.ok(pttl > 290_000 && pttl <= 300_000, `pttl ${pttl}`);
    assert.ok((await view('ttl:1')).ttl_ms > 290_000);
    assert.equal(await ok('persist', { key: 'ttl:1' }), 1);
    assert.equal(await rc.pttl('ttl:1'), -1);
    for (const bad of ['0', '-5', '1.5', String(11 * 366 * 24 * 3600 * 1000)])
        assert.equal((await change('expire', { key: 'ttl:1', ttl_ms: bad })).status, 400, bad);
    assert.equal((await change('expire', { key: 'ttl:1' })).status, 400);
});

test('issue 13 console keys: delete needs the key named exactly in confirm', async () => {
    await rc.set('del:1', 'v');
    assert.equal((await change('delete', { key: 'del:1' })).status, 400);
    assert.equal((await change('delete', { key: 'del:1', confirm: 'del:' })).status, 400);
    assert.equal((await change('delete', { key: 'del:1', confirm: 'del:1 ' })).status, 400);
    assert.equal(await rc.exists('del:1'), 1);
    assert.equal(await ok('delete', { key: 'del:1', confirm: 'del:1' }), 1);
    assert.equal(await rc.exists('del:1'), 0);
    // each change is logged: op, store, the key's length, never the key
    await waitFor(() => /console: keys: delete on store central \(5-byte key\)/.test(k.stderr()), { message: 'change logged' });
    assert.doesNotMatch(k.stderr(), /del:1/);
    assert.equal((await get('key', { key: 'del:1' })).status, 404);
});

test('issue 13 console keys: a read-only session reads, and every change is refused 403 with nothing changed', async () => {
    await rc.set('ro:s', 'v');
    assert.equal((await get('key', { key: 'ro:s' }, ro)).status, 200);
    assert.deepEqual((await scanAll('ro:*', ro)).map((x) => x.key), ['ro:s']);
    const attempts = {
        set: { value: 'x' }, hset: { field: 'f', value: 'v' }, hdel: { field: 'f' }, lset: { index: 0, value: 'v' },
        rpush: { value: 'v' }, lrem: { value: 'v' }, sadd: { member: 'm' }, srem: { member: 'm' },
        zadd: { member: 'm', score: 1 }, zrem: { member: 'm' }, xadd: { f0: 'f', v0: 'v' }, xdel: { id: '1-1' },
        expire: { ttl_ms: 1000 }, persist: {}, delete: { confirm: 'ro:s' },
    };
    for (const [op, fields] of Object.entries(attempts)) {
        const r = await change(op, { key: 'ro:s', ...fields }, ro);
        assert.equal(r.status, 403, op);
        assert.equal(r.body.error, 'read-only session');
    }
    assert.equal(await rc.get('ro:s'), 'v');
    assert.equal(await rc.pttl('ro:s'), -1);
});

test('issue 13 console keys: a read-only session reads through the store\'s read-only Redis user', async () => {
    const own = await startRedis();
    const io = own.client();
    await io.call('ACL', 'SETUSER', 'reader', 'on', '>reader-pw-4e1b9c', '~public:*', '&*', '+@all', '-@write', '-@dangerous');
    await io.set('public:a', '1');
    await io.set('secret:a', '2');
    const kk = await startKvedge({
        threads: 1,
        redis: { url: own.url, read_only_username: 'reader', read_only_password: 'reader-pw-4e1b9c' },
        admin: { token: ADMIN, read_only_token: READ_ONLY, console: { enabled: true, path: '/ui' } },
        kv: { path: '/kv', tokens: [{ token: KV_TOKEN }] },
    }, { waitReady: true });
    try {
        const saved = k;
        k = kk;
        try {
            const [w, r] = [await session(ADMIN), await session(READ_ONLY)];
            assert.equal((await get('key', { key: 'secret:a' }, w)).status, 200);
            assert.equal((await get('key', { key: 'public:a' }, r)).status, 200);
            const refused = await get('key', { key: 'secret:a' }, r); // the Redis user may not read it
            assert.equal(refused.status, 409, JSON.stringify(refused.body));
            assert.match(refused.body.error, /NOPERM/);
        } finally {
            k = saved;
        }
    } finally {
        assertCleanExit(await kk.stop());
        await own.stop();
    }
});

test('issue 13 console keys: a change without the CSRF header, from another origin or without a session is refused', async () => {
    await rc.set('csrf:1', 'v');
    const noCsrf = await change('delete', { key: 'csrf:1', confirm: 'csrf:1' }, { ...rw, csrf: '' });
    assert.equal(noCsrf.status, 403);
    const wrongCsrf = await change('delete', { key: 'csrf:1', confirm: 'csrf:1' }, { ...rw, csrf: 'a'.repeat(64) });
    assert.equal(wrongCsrf.status, 403);
    const evil = await change('delete', { key: 'csrf:1', confirm: 'csrf:1' }, rw, { origin: 'http://evil.example' });
    assert.equal(evil.status, 403);
    const anon = await http('POST', `${k.url}/ui/api/kv/change`, { body: form({ op: 'delete', key: 'csrf:1', confirm: 'csrf:1' }), headers: { origin: k.url } });
    assert.equal(anon.status, 401);
    assert.equal((await http('GET', `${k.url}/ui/api/kv/keys`)).status, 401);
    assert.equal((await http('GET', `${k.url}/ui/api/kv/key?key=csrf:1`)).status, 401);
    // a change reads its body only, never the query string
    const viaQuery = await http('POST', `${k.url}/ui/api/kv/change?op=set&key=csrf:1&value=x`, {
        headers: { cookie: rw.cookie, 'x-console-csrf': rw.csrf, origin: k.url },
    });
    assert.equal(viaQuery.status, 400);
    assert.equal(await rc.get('csrf:1'), 'v');
    // the client names an operation of a fixed table, never a command
    for (const op of ['FLUSHALL', 'flushall', 'keys', 'eval', 'SET', ''])
        assert.equal((await change(op, { key: 'csrf:1', value: 'x' })).status, 400, op);
    assert.equal(await rc.get('csrf:1'), 'v');
});

test('issue 13 console keys: key names with quotes, <script>, NUL, newline and non-UTF-8 bytes: scanned, viewed, deleted exactly', async () => {
    const names = [
        Buffer.from('odd:"quoted" \'single\''),
        Buffer.from('odd:<script>alert(1)</script>'),
        Buffer.from('odd:nul\u0000byte'),
        Buffer.from('odd:new\nline\r\t'),
        Buffer.concat([Buffer.from('odd:'), Buffer.from([0xc3, 0x28, 0xa0, 0xff])]),
        Buffer.from('odd:back\\slash %41 &x=1+2'),
    ];
    for (const n of names) assert.equal(await ok('set', { key: n, value: n, create: 1 }), 'OK');
    const found = (await scanAll('odd:*')).map((x) => bytes(x.key));
    for (const n of names) assert.ok(found.some((f) => f.equals(n)), `not found: ${JSON.stringify(n.toString('latin1'))}`);
    for (const n of names) {
        const v = await view(n);
        assert.deepEqual(bytes(v.key), n);
        assert.deepEqual(bytes(v.value), n);
        assert.deepEqual(await rc.getBuffer(n), n);
        assert.equal(await ok('delete', { key: n, confirm: n }), 1);
    }
    assert.deepEqual(await scanAll('odd:*'), []);
});

test('issue 13 console keys: a page of the store larger than 16 MiB is refused (413), not held', async () => {
    const mib = 'x'.repeat(1024 * 1024);
    const p = rc.pipeline();
    for (let i = 0; i < 17; i++) p.hset('huge:h', `f${i}`, mib);
    await p.exec();
    const r = await get('key', { key: 'huge:h', count: 1000 });
    assert.equal(r.status, 413, JSON.stringify(r.body).slice(0, 200));
    assert.match(r.body.error, /larger than 16 MiB: ask for fewer items/);
    const few = await get('key', { key: 'huge:h', count: 1 }); // HSCAN COUNT is a hint: a page may still hold several
    assert.ok(few.status === 200 || few.status === 413, String(few.status));
    await rc.del('huge:h');
});

test('issue 13 console keys: clients that go away while the store is slow: no crash, nothing left behind', async () => {
    await central.kill('SIGSTOP');
    try {
        const gone = [];
        for (let i = 0; i < 6; i++)
            gone.push(http('GET', `${k.url}/ui/api/kv/${i % 2 ? 'keys' : 'key?key=s:1'}`, { headers: { cookie: rw.cookie }, timeoutMs: 100 }).catch((e) => e));
        for (const r of await Promise.all(gone)) assert.match(String(r?.message ?? r?.status), /timed out/);
    } finally {
        await central.kill('SIGCONT');
    }
    assert.equal((await get('key', { key: 's:1' })).status, 200);
});

test('issue 13 console keys: a store that is down gives a clear 503 and no crash; back up, it answers again', async () => {
    await other.kill('SIGSTOP');
    try {
        const t0 = Date.now();
        const r = await get('keys', { store: 'default' });
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.match(r.body.error, /^the store "default" is unavailable: /);
        assert.ok(Date.now() - t0 < 9000);
        const w = await change('set', { store: 'default', key: 'a', value: 'b' });
        assert.equal(w.status, 503);
        const still = await get('keys', { pattern: 'page:1' });
        assert.equal(still.status, 200, JSON.stringify(still.body)); // the other store still answers
    } finally {
        await other.kill('SIGCONT');
    }
    await other.stop();
    const down = await get('key', { store: 'default', key: 'x' });
    assert.equal(down.status, 503);
    assert.equal((await http('GET', `${k.url}/healthz`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 200);
});
