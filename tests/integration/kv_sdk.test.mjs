// The KV REST API driven by the real client SDKs: @upstash/redis 1.39.0 (defaults: auto-pipelining and
// base64 responses; also responseEncoding:false and enableAutoPipelining:false) and @vercel/kv 3.0.0.
// What the SDKs need from the server is in /work/shared/docs/kv-rest-protocol.md (checklist (a), §4).
// One Redis + kvedge for the file; keys are cleared between tests (except the sync-token counter).
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis, errors } from '@upstash/redis';
import { createClient } from '@vercel/kv';
import { assertCleanExit, waitFor } from './harness.mjs';
import {
    CLUSTER,
    RO_TOKEN,
    RW_TOKEN,
    clearKeys,
    recordFetch,
    runNode,
    sha1hex,
    startKvStack,
    startKvStackBeside,
} from './kv_helpers.mjs';

let stack; // {redis, k, url, io, stop}
let url;
let io;

before(async () => {
    // allow_keys/allow_flush: KEYS and FLUSHDB are available to the read-write token, so a NOPERM for the read-only
    // token can only come from the read-only rule (the default policy is tested on its own kvedge below).
    stack = await startKvStack({ kv: { allow_keys: true, allow_flush: true } });
    url = stack.url;
    io = stack.io;
});

after(async () => {
    if (stack) assertCleanExit(await stack.stop());
});

beforeEach(async () => {
    await clearKeys(io);
});

const rw = (opts = {}) => new Redis({ url, token: RW_TOKEN, retry: false, ...opts });
const ro = (opts = {}) => new Redis({ url, token: RO_TOKEN, retry: false, ...opts });

// The client flavours: the wire differs (base64 or not, /pipeline or /), the results must not.
const variants = [
    ['@upstash/redis defaults (auto-pipelining, base64)', () => rw()],
    ['@upstash/redis responseEncoding:false', () => rw({ responseEncoding: false })],
    ['@upstash/redis enableAutoPipelining:false', () => rw({ enableAutoPipelining: false })],
    ['@vercel/kv createClient', () => createClient({ url, token: RW_TOKEN })],
];

const UpstashError = errors.UpstashError;

async function rawCommand(body, { token = RW_TOKEN, path = '', headers = {}, base = url } = {}) {
    const r = await fetch(base + path, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, ...headers },
        body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
    return { status: r.status, headers: r.headers, json: await r.json() };
}

// ---------------------------------------------------------------------------------------------
// values

for (const [name, make] of variants) {
    test(`values round-trip through set/get: ${name}`, async () => {
        const c = make();
        const values = {
            str: 'hello world',
            empty: '',
            int: 42,
            neg: -3.5,
            big: 1e21,
            t: true,
            f: false,
            obj: { a: 1, s: 'x', nested: { list: [1, 'two', null, { three: 3 }] } },
            arr: [1, 'two', { three: 3 }],
            emoji: 'emoji 😀👍🏽 ünïcödé ✓ 中文',
            ctl: 'line1\nline2\t"quoted" \\ back\u0001\u001f',
            okstr: 'OK',
        };
        for (const [k, v] of Object.entries(values)) assert.equal(await c.set(`v:${k}`, v), 'OK', `set ${k}`);
        for (const [k, v] of Object.entries(values)) assert.deepEqual(await c.get(`v:${k}`), v, `get ${k}`);
        // what Redis holds is the SDK's serialization
        assert.equal(await io.get('v:obj'), JSON.stringify(values.obj));
        assert.equal(await io.get('v:emoji'), values.emoji);
        assert.equal(await io.get('v:t'), 'true');
        assert.equal(await io.get('v:int'), '42');
        assert.equal(await c.get('v:missing'), null);
        // concurrently (one auto-pipeline batch for the default client)
        const got = await Promise.all(Object.keys(values).map((k) => c.get(`v:${k}`)));
        assert.deepEqual(got, Object.values(values));
    });
}

test('all byte values 0..255 written raw via the path form, read back through the SDK', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const w = await fetch(`${url}/set/bin`, { method: 'POST', headers: { authorization: `Bearer ${RW_TOKEN}` }, body: bytes });
    assert.equal(w.status, 200);
    assert.deepEqual(await w.json(), { result: 'OK' });
    assert.deepEqual(await io.getBuffer('bin'), bytes, 'Redis holds the exact 256 bytes');

    const rec = recordFetch();
    try {
        // base64 (default): the wire carries the exact bytes; the SDK then UTF-8 decodes them (invalid -> U+FFFD)
        const b64 = await rw({ automaticDeserialization: false }).get('bin');
        await rec.settled();
        const wire = JSON.parse(rec.records.at(-1).resBody);
        assert.ok(Array.isArray(wire), 'auto-pipelined: /pipeline reply');
        assert.deepEqual(Buffer.from(wire[0].result, 'base64'), bytes, 'base64 on the wire decodes to the exact bytes');
        assert.equal(b64, new TextDecoder().decode(bytes));
        // no encoding: still valid JSON; control characters escaped, invalid UTF-8 replaced like TextDecoder does
        rec.clear();
        const plain = await rw({ responseEncoding: false, automaticDeserialization: false }).get('bin');
        assert.equal(plain, new TextDecoder().decode(bytes));
        assert.equal([...plain].filter((ch) => ch === '\ufffd').length, 128);
        // a valid UTF-8 binary-ish value round-trips exactly in both encodings
        const mixed = Buffer.concat([Buffer.from([0, 1, 2, 0x7f]), Buffer.from('é😀', 'utf8'), Buffer.from([0x0a, 0x0d, 0x22, 0x5c])]);
        await fetch(`${url}/set/mixed`, { method: 'POST', headers: { authorization: `Bearer ${RW_TOKEN}` }, body: mixed });
        assert.equal(await rw({ automaticDeserialization: false }).get('mixed'), mixed.toString('utf8'));
        assert.equal(await rw({ responseEncoding: false, automaticDeserialization: false }).get('mixed'), mixed.toString('utf8'));
    } finally {
        rec.restore();
    }
});

test('a 1 MiB value (and a 1 MiB JSON object) round-trips', async () => {
    const chunk = 'abcdefghijklmnopqrstuvwxyz0123456789-é😀';
    const big = chunk.repeat(Math.ceil((1 << 20) / Buffer.byteLength(chunk)));
    assert.ok(Buffer.byteLength(big) >= 1 << 20);
    for (const [name, c] of [['base64', rw()], ['plain', rw({ responseEncoding: false })], ['no auto-pipeline', rw({ enableAutoPipelining: false })]]) {
        assert.equal(await c.set('big', big), 'OK', name);
        assert.equal(await io.strlen('big'), Buffer.byteLength(big), name);
        assert.equal(await c.get('big'), big, name);
    }
    const obj = { items: Array.from({ length: 50000 }, (_, i) => ({ i, s: `item-${i}-😀` })) };
    assert.ok(JSON.stringify(obj).length > 1 << 20);
    const c = rw();
    await c.set('bigobj', obj);
    assert.deepEqual(await c.get('bigobj'), obj);
});

// ---------------------------------------------------------------------------------------------
// "OK" inside arrays (base64 at every depth)

test("'OK' stored as a value comes back as 'OK' inside arrays (not 8)", async () => {
    const rec = recordFetch();
    try {
        for (const [name, make] of variants) {
            const c = make();
            await clearKeys(io);
            assert.equal(await c.set('k', 'OK'), 'OK');
            // (multi-key commands: the keys share a {hash tag}, so the suite also runs on a Redis Cluster store)
            assert.deepEqual(await c.mget('k', '{k}nokey'), ['OK', null], `${name}: mget`);
            await c.rpush('l', 'OK', 'x', 'OK');
            assert.deepEqual(await c.lrange('l', 0, -1), ['OK', 'x', 'OK'], `${name}: lrange`);
            await c.hset('h', { f: 'OK' });
            assert.deepEqual(await c.hgetall('h'), { f: 'OK' }, `${name}: hgetall`);
            const res = await c.pipeline().set('p', 'OK').get('p').mget('p', '{p}none').lrange('l', 0, 0).exec();
            assert.deepEqual(res, ['OK', 'OK', ['OK', null], ['OK']], `${name}: pipeline`);
            const tx = await c.multi().set('t', 'OK').get('t').mget('t', '{t}none').exec();
            assert.deepEqual(tx, ['OK', 'OK', ['OK', null]], `${name}: multi`);
        }
        await rec.settled();
        // the wire, with base64: every string leaf is encoded, including an 'OK' inside an array
        const mget = rec.records.find((r) => r.reqHeaders['upstash-encoding'] === 'base64' && /"mget","k","\{k\}nokey"/.test(r.reqBody));
        assert.ok(mget, 'an mget request with base64 was made');
        assert.deepEqual(JSON.parse(mget.resBody), [{ result: ['T0s=', null] }]);
    } finally {
        rec.restore();
    }
});

// ---------------------------------------------------------------------------------------------
// set options and expiry

test('set with ex / nx / xx / px (px actually expires)', async () => {
    const c = rw();
    assert.equal(await c.set('ex', 'v', { ex: 60 }), 'OK');
    const ttl = await c.ttl('ex');
    assert.ok(ttl >= 59 && ttl <= 60, `ttl ${ttl}`);
    assert.equal(await c.set('nx', 'a', { nx: true }), 'OK');
    assert.equal(await c.set('nx', 'b', { nx: true }), null, 'nx on an existing key');
    assert.equal(await c.get('nx'), 'a');
    assert.equal(await c.set('xx', 'a', { xx: true }), null, 'xx on a missing key');
    assert.equal(await c.exists('xx'), 0);
    assert.equal(await c.set('nx', 'c', { xx: true, ex: 100 }), 'OK');
    assert.equal(await c.get('nx'), 'c');
    assert.ok((await c.pttl('nx')) > 90_000);
    assert.equal(await c.set('px', { gone: true }, { px: 150 }), 'OK');
    assert.deepEqual(await c.get('px'), { gone: true });
    await waitFor(async () => (await c.get('px')) === null, { timeoutMs: 5000, message: 'px key expired' });
    assert.equal(await io.exists('px'), 0);
    assert.equal(await c.setex('sx', 30, 'v'), 'OK');
    assert.ok((await c.ttl('sx')) > 25);
    assert.equal(await c.expire('sx', 500), 1);
    assert.ok((await c.ttl('sx')) > 400);
    assert.equal(await c.persist('sx'), 1);
    assert.equal(await c.ttl('sx'), -1);
});

// ---------------------------------------------------------------------------------------------
// data structures

for (const [name, make] of variants) {
    test(`lists, sets, hashes, sorted sets, counters, strings: ${name}`, async () => {
        const c = make();
        // lists
        assert.equal(await c.lpush('list', 'a', 'b', 'c'), 3);
        assert.equal(await c.rpush('list', 1, { o: 1 }), 5);
        assert.deepEqual(await c.lrange('list', 0, -1), ['c', 'b', 'a', 1, { o: 1 }]);
        assert.equal(await c.llen('list'), 5);
        assert.equal(await c.lindex('list', 1), 'b');
        assert.equal(await c.lpop('list'), 'c');
        assert.deepEqual(await c.rpop('list'), { o: 1 });
        assert.deepEqual(await c.lrange('nolist', 0, -1), []);
        // sets
        assert.equal(await c.sadd('set', 'x', 'y', 'x'), 2);
        assert.deepEqual((await c.smembers('set')).sort(), ['x', 'y']);
        assert.equal(await c.sismember('set', 'x'), 1);
        assert.equal(await c.sismember('set', 'z'), 0);
        assert.equal(await c.scard('set'), 2);
        assert.equal(await c.srem('set', 'x'), 1);
        assert.deepEqual(await c.smembers('set'), ['y']);
        // hashes: numbers and objects deserialized
        assert.equal(await c.hset('hash', { name: 'kvedge', stars: 5, ratio: 0.25, obj: { a: [1, 2] }, flag: true }), 5);
        // (the SDK's hgetall keeps non-integer numbers as strings, to not lose precision)
        assert.deepEqual(await c.hgetall('hash'), { name: 'kvedge', stars: 5, ratio: '0.25', obj: { a: [1, 2] }, flag: true });
        assert.equal(await c.hget('hash', 'stars'), 5);
        assert.equal(await c.hget('hash', 'nofield'), null);
        assert.equal(await c.hincrby('hash', 'stars', 2), 7);
        assert.deepEqual(await c.hmget('hash', 'name', 'stars', 'nofield'), { name: 'kvedge', stars: 7, nofield: null });
        assert.deepEqual((await c.hkeys('hash')).sort(), ['flag', 'name', 'obj', 'ratio', 'stars']);
        assert.equal(await c.hlen('hash'), 5);
        assert.equal(await c.hexists('hash', 'name'), 1);
        assert.equal(await c.hdel('hash', 'flag'), 1);
        assert.equal(await c.hgetall('nohash'), null);
        // sorted sets: scores are bulk strings that the SDK turns into numbers
        assert.equal(await c.zadd('z', { score: 1.5, member: 'a' }, { score: 2, member: 'b' }, { score: -0.25, member: 'c' }), 3);
        assert.deepEqual(await c.zrange('z', 0, -1, { withScores: true }), ['c', -0.25, 'a', 1.5, 'b', 2]);
        assert.deepEqual(await c.zrange('z', 0, -1), ['c', 'a', 'b']);
        assert.equal(await c.zscore('z', 'a'), 1.5);
        assert.equal(await c.zincrby('z', 0.5, 'a'), 2);
        assert.equal(await c.zcard('z'), 3);
        assert.equal(await c.zrank('z', 'b'), 2);
        assert.deepEqual(await c.zrange('z', 1, 2, { byScore: true, withScores: true }), ['a', 2, 'b', 2]);
        // counters
        assert.equal(await c.incr('n'), 1);
        assert.equal(await c.incrby('n', 9), 10);
        assert.equal(await c.decr('n'), 9);
        assert.equal(await c.incrbyfloat('n', 1.5), 10.5);
        assert.equal(await c.incrbyfloat('n', -0.25), 10.25);
        assert.equal(await c.get('n'), 10.25);
        // mget / mset
        assert.equal(await c.mset({ '{m}a': 1, '{m}b': 'x', '{m}c': { d: [1] } }), 'OK');
        assert.deepEqual(await c.mget('{m}a', '{m}b', '{m}c', '{m}zz'), [1, 'x', { d: [1] }, null]);
        assert.equal(await c.msetnx({ '{m}a': 2, '{m}new': 3 }), 0);
        // exists / del
        assert.equal(await c.exists('{m}a', '{m}b', '{m}zz'), 2);
        assert.equal(await c.del('{m}a', '{m}b', '{m}zz'), 2);
        assert.equal(await c.exists('{m}a'), 0);
        // getdel, append, strlen, getrange, type
        assert.equal(await c.set('s', 'abc'), 'OK');
        assert.equal(await c.append('s', 'de'), 5);
        assert.equal(await c.strlen('s'), 5);
        assert.equal(await c.get('s'), 'abcde');
        assert.equal(await c.getrange('s', 1, 2), 'bc');
        assert.equal(await c.type('s'), 'string');
        assert.equal(await c.type('z'), 'zset');
        assert.equal(await c.getdel('s'), 'abcde');
        assert.equal(await c.get('s'), null);
        assert.equal(await c.getdel('s'), null);
        assert.equal(await c.ping(), 'PONG');
        assert.equal(await c.echo('hi there'), 'hi there');
    });
}

for (const [name, make] of variants) {
    test(`streams, nested replies, bits, TIME, DBSIZE, ZMSCORE, HRANDFIELD: ${name}`, async () => {
        const c = make();
        const id1 = await c.xadd('st', '*', { f: 'v', n: 1 });
        const id2 = await c.xadd('st', '*', { o: { a: 1 }, ok: 'OK' });
        assert.match(id1, /^\d+-\d+$/);
        assert.deepEqual(await c.xrange('st', '-', '+'), { [id1]: { f: 'v', n: 1 }, [id2]: { o: { a: 1 }, ok: 'OK' } });
        assert.equal(await c.xlen('st'), 2);
        // nested arrays from a script (base64 at every depth), with an 'OK' and numbers inside
        assert.deepEqual(await c.eval("return {1, 'OK', {'x', {'OK', 2}}, redis.status_reply('FINE')}", [], []), [1, 'OK', ['x', ['OK', 2]], 'FINE']);
        assert.equal(await c.setbit('bits', 7, 1), 0);
        assert.equal(await c.getbit('bits', 7), 1);
        assert.equal(await c.bitcount('bits', 0, -1), 1);
        const [secs, usecs] = await c.time();
        assert.ok(Math.abs(Number(secs) - Date.now() / 1000) < 60, `TIME ${secs}`);
        assert.ok(Number(usecs) >= 0 && Number(usecs) < 1e6);
        assert.equal(await c.dbsize(), (await io.dbsize()));
        await c.zadd('zz', { score: 1.5, member: 'a' }, { score: 3, member: 'b' });
        assert.deepEqual(await c.zmscore('zz', ['a', 'b', 'nope']), [1.5, 3, null]);
        await c.hset('hr', { only: 'OK' });
        assert.equal(await c.hrandfield('hr'), 'only');
        assert.deepEqual(await c.hrandfield('hr', 1, true), { only: 'OK' });
        assert.equal(await c.set('g', 'old'), 'OK');
        assert.equal(await c.set('g', 'new', { get: true }), 'old');
        assert.equal(await c.get('g'), 'new');
    });
}

// ---------------------------------------------------------------------------------------------
// pipelines

test('explicit pipeline: results in order, per-command errors with keepErrors (no stray keys on the wire)', async () => {
    const rec = recordFetch();
    try {
        for (const [name, make] of variants) {
            const c = make();
            await clearKeys(io);
            rec.clear();
            const p = c.pipeline();
            p.set('k', 'v');
            p.incr('k');
            p.get('k');
            p.hget('k', 'f');
            p.incr('n');
            const res = await p.exec({ keepErrors: true });
            assert.equal(res.length, 5, name);
            assert.deepEqual(res[0], { error: undefined, result: 'OK' }, name);
            assert.equal(res[1].result, undefined, name);
            assert.equal(res[1].error, 'ERR value is not an integer or out of range', name);
            assert.deepEqual(res[2], { error: undefined, result: 'v' }, name);
            assert.equal(res[3].result, undefined, name);
            assert.equal(res[3].error, 'WRONGTYPE Operation against a key holding the wrong kind of value', name);
            assert.deepEqual(res[4], { error: undefined, result: 1 }, name);
            await rec.settled();
            const wire = rec.at(url, '/pipeline').at(-1);
            assert.equal(wire.status, 200, name);
            const entries = JSON.parse(wire.resBody);
            assert.deepEqual(entries.map((e) => Object.keys(e)), [['result'], ['error'], ['result'], ['error'], ['result']], name);

            // without keepErrors the first failing entry throws, naming the command
            await assert.rejects(c.pipeline().set('k2', 'v').incr('k2').exec(), (e) => {
                assert.ok(e instanceof UpstashError, name);
                assert.match(e.message, /^Command 2 \[ incr \] failed: ERR value is not an integer or out of range/);
                return true;
            });
            assert.equal(await io.get('k2'), 'v', `${name}: the other commands ran`);
        }
    } finally {
        rec.restore();
    }
});

test('a long explicit pipeline (1500 commands) and 200 concurrent auto-pipelined mixed commands', async () => {
    const c = rw();
    const p = c.pipeline();
    for (let i = 0; i < 1500; i++) p.incr('lp');
    const res = await p.exec();
    assert.equal(res.length, 1500);
    assert.deepEqual(res, Array.from({ length: 1500 }, (_, i) => i + 1));

    // pre-populated keys for the reads (reads and writes go in separate auto-pipelines: no read-after-write here)
    const pre = io.pipeline();
    for (let i = 0; i < 50; i++) pre.set(`pre:${i}`, JSON.stringify({ i }));
    pre.hset('preh', 'f', 'OK');
    await pre.exec();

    const rec = recordFetch();
    try {
        const ops = [];
        for (let i = 0; i < 200; i++) {
            switch (i % 5) {
                case 0:
                    ops.push([c.set(`w:${i}`, { i }), 'OK']);
                    break;
                case 1:
                    ops.push([c.get(`pre:${i % 50}`), { i: i % 50 }]);
                    break;
                case 2:
                    ops.push([c.incr('ctr'), 'incr']);
                    break;
                case 3:
                    ops.push([c.sadd('cs', `m${i}`), 1]);
                    break;
                default:
                    ops.push([c.hget('preh', 'f'), 'OK']);
            }
        }
        const got = await Promise.all(ops.map(([pr]) => pr));
        const incrs = [];
        got.forEach((v, i) => {
            if (ops[i][1] === 'incr') incrs.push(v);
            else assert.deepEqual(v, ops[i][1], `command ${i}`);
        });
        assert.deepEqual([...incrs].sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1));
        assert.equal(await io.get('ctr'), '40');
        assert.equal(await io.scard('cs'), 40);
        assert.deepEqual(JSON.parse(await io.get('w:195')), { i: 195 });
        // they really were batched: fewer requests than commands, all to /pipeline
        const reqs = rec.records.filter((r) => r.url.startsWith(url));
        assert.ok(reqs.length >= 1 && reqs.length < 20, `${reqs.length} requests for 200 commands`);
        assert.ok(reqs.every((r) => r.url === `${url}/pipeline` && r.status === 200));
    } finally {
        rec.restore();
    }
});

// ---------------------------------------------------------------------------------------------
// transactions

test('multi().exec(): results, run-time errors as entries, keepErrors', async () => {
    const c = rw();
    assert.deepEqual(await c.multi().set('t', 1).incr('t').get('t').exec(), ['OK', 2, 2]);
    assert.deepEqual(await c.multi().hset('{t}h', { a: 1 }).hgetall('{t}h').zadd('{t}z', { score: 1.5, member: 'm' }).zrange('{t}z', 0, -1, { withScores: true }).exec(),
        [1, { a: 1 }, 1, ['m', 1.5]]);
    // a run-time error does not abort the transaction (EXEC semantics)
    await assert.rejects(c.multi().set('s', 'x').incr('s').set('{s}2', 'y').exec(), /Command 2 \[ incr \] failed: ERR value is not an integer/);
    assert.equal(await io.get('{s}2'), 'y');
    const res = await c.multi().set('s', 'x').incr('s').get('s').exec({ keepErrors: true });
    assert.deepEqual(res[0], { error: undefined, result: 'OK' });
    assert.equal(res[1].result, undefined);
    assert.match(res[1].error, /^ERR value is not an integer/);
    assert.deepEqual(res[2], { error: undefined, result: 'x' });
});

test('100 concurrent /multi-exec of [INCR c, INCR c] are atomic: consecutive pairs, final value 200', async () => {
    // several client instances (each its own connection pool) plus one raw-fetch path
    const clients = [rw(), rw({ enableAutoPipelining: false }), rw({ responseEncoding: false }), createClient({ url, token: RW_TOKEN })];
    const jobs = Array.from({ length: 100 }, (_, i) => {
        if (i % 10 === 9) {
            return rawCommand([['INCR', 'c'], ['INCR', 'c']], { path: '/multi-exec' }).then((r) => {
                assert.equal(r.status, 200);
                return r.json.map((e) => e.result);
            });
        }
        return clients[i % clients.length].multi().incr('c').incr('c').exec();
    });
    const replies = await Promise.all(jobs);
    for (const r of replies) {
        assert.equal(r.length, 2);
        assert.equal(r[1], r[0] + 1, `consecutive: ${JSON.stringify(r)}`);
    }
    const firsts = replies.map((r) => r[0]).sort((a, b) => a - b);
    assert.deepEqual(firsts, Array.from({ length: 100 }, (_, i) => 2 * i + 1));
    assert.equal(await io.get('c'), '200');
});

test('a transaction with an unknown command is discarded as a whole', async () => {
    for (const [name, make] of variants) {
        const c = make();
        await clearKeys(io);
        // JSON.SET is an SDK method, but this Redis has no RedisJSON: Redis refuses it while queuing -> EXECABORT
        const tx = c.multi();
        tx.set('{x}a', '1');
        tx.incr('{x}ctr');
        tx.json.set('{x}j', '$', { x: 1 });
        await assert.rejects(tx.exec(), (e) => {
            assert.ok(e instanceof UpstashError, `${name}: ${e}`);
            assert.match(e.message, /unknown command/i, name);
            return true;
        });
        assert.equal(await io.exists('{x}a', '{x}ctr', '{x}j'), 0, `${name}: nothing of the transaction ran`);
    }
    const r = await rawCommand([['SET', 'a', '1'], ['NOSUCHCMD']], { path: '/multi-exec' });
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.json), ['error']);
    assert.match(r.json.error, /unknown command 'NOSUCHCMD'/i);
    assert.equal(await io.exists('a'), 0);
});

// ---------------------------------------------------------------------------------------------
// scripts

test('scripts: createScript().exec works on the first call (EVALSHA -> NOSCRIPT -> EVAL); SHA; NOSCRIPT text', async () => {
    const unique = `${process.pid}-${Date.now()}`;
    const src = `-- ${unique}\nredis.call('SET', KEYS[1], ARGV[1]) return {redis.call('GET', KEYS[1]), tonumber(ARGV[2]) + 1, 'OK'}`;
    const rec = recordFetch();
    try {
        for (const [name, make] of variants) {
            const c = make();
            await io.script('FLUSH');
            rec.clear();
            const script = c.createScript(src);
            assert.deepEqual(await script.exec(['sk'], ['val', '41']), ['val', 42, 'OK'], `${name}: first exec`);
            await rec.settled();
            const cmds = rec.records.flatMap((r) => {
                const b = JSON.parse(r.reqBody);
                return (Array.isArray(b[0]) ? b : [b]).map((x) => x[0]);
            });
            assert.deepEqual(cmds, ['evalsha', 'eval'], `${name}: EVALSHA, then EVAL after NOSCRIPT`);
            rec.clear();
            assert.deepEqual(await script.exec(['sk'], ['again', '1']), ['again', 2, 'OK'], `${name}: second exec`);
            await rec.settled();
            assert.equal(rec.records.length, 1, `${name}: the second exec needs only EVALSHA`);
            assert.equal(await io.get('sk'), 'again');
        }
        rec.restore();

        const c = rw();
        const src2 = `return 'loaded ${unique} ✓'`;
        const sha = await c.scriptLoad(src2);
        assert.equal(sha, sha1hex(src2), 'SCRIPT LOAD returns the SHA-1 of the exact source bytes');
        assert.equal(await c.evalsha(sha, [], []), `loaded ${unique} ✓`);
        assert.deepEqual(await c.scriptExists(sha, 'f'.repeat(40)), [1, 0]);
        assert.equal(await c.eval('return ARGV[1] .. KEYS[1]', ['k'], ['v']), 'vk');

        const noscript = 'NOSCRIPT No matching script. Please use EVAL.';
        for (const cl of [c, rw({ enableAutoPipelining: false }), rw({ responseEncoding: false })]) {
            await assert.rejects(cl.evalsha('f'.repeat(40), [], []), (e) => {
                assert.ok(e instanceof UpstashError);
                assert.ok(e.message.includes(noscript), e.message);
                return true;
            });
        }
        const raw = await rawCommand(['EVALSHA', 'f'.repeat(40), 0]);
        assert.equal(raw.status, 400);
        assert.deepEqual(raw.json, { error: noscript });
        const inPipe = await rawCommand([['EVALSHA', 'f'.repeat(40), 0]], { path: '/pipeline' });
        assert.deepEqual(inPipe.json, [{ error: noscript }]);
    } finally {
        rec.restore();
    }
});

// ---------------------------------------------------------------------------------------------
// scan

test('scan: string cursor, full iteration with @vercel/kv scanIterator, hscan/sscan/zscan iterators', async () => {
    const pipe = io.pipeline();
    for (let i = 0; i < 250; i++) pipe.set(`it:${i}`, i);
    for (let i = 0; i < 20; i++) pipe.set(`other:${i}`, i);
    for (let i = 0; i < 300; i++) {
        pipe.hset('bigh', `f${i}`, i);
        pipe.sadd('bigs', `m${i}`);
        pipe.zadd('bigz', i + 0.5, `z${i}`);
    }
    await pipe.exec();

    for (const [name, make] of variants) {
        const c = make();
        const first = await c.scan(0, { match: 'it:*', count: 10 });
        assert.equal(first.length, 2, name);
        assert.equal(typeof first[0], 'string', `${name}: cursor is a string`);
        assert.ok(Array.isArray(first[1]), name);
        // a manual loop
        const seen = new Set();
        let cursor = '0';
        let rounds = 0;
        do {
            const [next, keys] = await c.scan(cursor, { match: 'it:*', count: 25 });
            assert.equal(typeof next, 'string');
            for (const k of keys) seen.add(k);
            cursor = next;
            assert.ok(++rounds < 1000, 'scan loop ends');
        } while (cursor !== '0');
        assert.equal(seen.size, 250, name);
    }

    const kv = createClient({ url, token: RW_TOKEN });
    // every item of an async iterator, failing instead of looping forever if it never ends
    const drain = async (iterator, max) => {
        const items = [];
        for await (const x of iterator) {
            items.push(x);
            assert.ok(items.length <= max, `iterator yielded more than ${max} items (never ends?)`);
        }
        return items;
    };
    const keys = new Set(await drain(kv.scanIterator({ match: 'it:*', count: 10 }), 5000));
    assert.deepEqual([...keys].sort(), Array.from({ length: 250 }, (_, i) => `it:${i}`).sort());
    const all = await drain(kv.scanIterator({ count: 7 }), 5000);
    assert.deepEqual([...new Set(all)].sort(), (await io.keys('*')).sort(), 'without a match: every key of the database');

    const fields = await drain(kv.hscanIterator('bigh', { count: 20 }), 2000);
    assert.equal(fields.length, 600);
    const hobj = {};
    for (let i = 0; i < fields.length; i += 2) hobj[fields[i]] = fields[i + 1];
    assert.equal(Object.keys(hobj).length, 300);
    assert.equal(hobj.f7, 7, 'values deserialized');

    const members = new Set(await drain(kv.sscanIterator('bigs', { count: 20, match: 'm1*' }), 2000));
    assert.deepEqual([...members].sort(), Array.from({ length: 300 }, (_, i) => `m${i}`).filter((m) => m.startsWith('m1')).sort());

    const zitems = await drain(kv.zscanIterator('bigz', { count: 20 }), 2000);
    assert.equal(zitems.length, 600);
    const zobj = {};
    for (let i = 0; i < zitems.length; i += 2) zobj[zitems[i]] = zitems[i + 1];
    assert.equal(zobj.z10, 10.5);
    assert.equal(Object.keys(zobj).length, 300);
});

test('scan withType (Upstash extension) gives every key with its type', async () => {
    await io.set('wt:str', 'v');
    await io.rpush('wt:list', 'a');
    await io.sadd('wt:set', 'a');
    await io.hset('wt:hash', 'f', 'v');
    await io.zadd('wt:zset', 1, 'a');
    await io.xadd('wt:stream', '*', 'f', 'v');
    const expected = { 'wt:str': 'string', 'wt:list': 'list', 'wt:set': 'set', 'wt:hash': 'hash', 'wt:zset': 'zset', 'wt:stream': 'stream' };
    for (const [name, make] of variants) {
        const c = make();
        const got = {};
        let cursor = '0';
        let rounds = 0;
        do {
            const res = await c.scan(cursor, { match: 'wt:*', count: 2, withType: true });
            assert.equal(res.length, 2, name);
            assert.equal(typeof res[0], 'string', `${name}: cursor is a string`);
            for (const e of res[1]) got[e.key] = e.type;
            cursor = res[0];
            assert.ok(++rounds < 1000);
        } while (cursor !== '0');
        assert.deepEqual(got, expected, name);
    }
    // the plain wire shape: [cursor, [k1, t1, k2, t2, ...]] (one call on one Redis; on a cluster one per shard, the
    // cursor naming the next shard)
    const pairs = {};
    let cursor = '0';
    let calls = 0;
    do {
        const raw = await rawCommand(['SCAN', cursor, 'MATCH', 'wt:s*', 'COUNT', 1000, 'WITHTYPE']);
        assert.equal(raw.status, 200);
        assert.equal(typeof raw.json.result[0], 'string');
        const flat = raw.json.result[1];
        for (let i = 0; i < flat.length; i += 2) pairs[flat[i]] = flat[i + 1];
        cursor = raw.json.result[0];
        assert.ok(++calls <= (CLUSTER ? 3 : 1), `${calls} calls (one per shard at most)`);
    } while (cursor !== '0');
    assert.deepEqual(pairs, { 'wt:str': 'string', 'wt:set': 'set', 'wt:stream': 'stream' });
});

// settle a promise into a comparable outcome: {ok: value} or {err: message}
const outcome = (p) => p.then((ok) => ({ ok }), (e) => ({ err: String(e?.message ?? e).replace(/, command was: .*$/s, '') }));

test("copy('k','k') is NOT_COPIED (Upstash) as a single command, in a pipeline and in a transaction", async () => {
    const got = {};
    const want = {};
    for (const [name, make] of variants) {
        const c = make();
        await clearKeys(io);
        await c.set('k', { v: 1 });
        // the direct form (POST /): what enableAutoPipelining:false sends; the others send /pipeline
        got[`${name}: copy k k`] = await outcome(c.copy('k', 'k'));
        want[`${name}: copy k k`] = { ok: 'NOT_COPIED' };
        got[`${name}: copy k k2`] = await outcome(c.copy('k', '{k}2'));
        want[`${name}: copy k k2`] = { ok: 'COPIED' };
        got[`${name}: copy k k2 again`] = await outcome(c.copy('k', '{k}2'));
        want[`${name}: copy k k2 again`] = { ok: 'NOT_COPIED' };
        got[`${name}: copy replace`] = await outcome(c.copy('k', '{k}2', { replace: true }));
        want[`${name}: copy replace`] = { ok: 'COPIED' };
        got[`${name}: get k2`] = await outcome(c.get('{k}2'));
        want[`${name}: get k2`] = { ok: { v: 1 } };
        got[`${name}: pipeline`] = await outcome(c.pipeline().copy('k', 'k').copy('k', '{k}3').get('{k}3').exec());
        want[`${name}: pipeline`] = { ok: ['NOT_COPIED', 'COPIED', { v: 1 }] };
        got[`${name}: multi`] = await outcome(c.multi().copy('k', 'k').copy('k', '{k}4').get('{k}4').exec({ keepErrors: true }));
        want[`${name}: multi`] = { ok: [{ error: undefined, result: 'NOT_COPIED' }, { error: undefined, result: 'COPIED' }, { error: undefined, result: { v: 1 } }] };
    }
    // the wire: one entry per command
    const pl = await rawCommand([['COPY', 'k', 'k'], ['GET', 'nokey']], { path: '/pipeline' });
    got['raw /pipeline'] = pl.json;
    want['raw /pipeline'] = [{ result: 0 }, { result: null }];
    const tx = await rawCommand([['COPY', 'k', 'k'], ['GET', '{k}nokey']], { path: '/multi-exec' });
    got['raw /multi-exec'] = tx.json;
    want['raw /multi-exec'] = [{ result: 0 }, { result: null }];
    assert.deepEqual(got, want);
});

// ---------------------------------------------------------------------------------------------
// read-only token

test('read-only token: reads work; writes, KEYS, SCAN, FLUSHDB fail with NOPERM (also auto-pipelined); per entry in a pipeline', async () => {
    await rw().set('k', 'v');
    await io.hset('h', 'f', '1');
    const got = {};
    const want = {};
    for (const [name, c] of [
        ['default (auto-pipelined)', ro()],
        ['enableAutoPipelining:false', ro({ enableAutoPipelining: false })],
        ['responseEncoding:false', ro({ responseEncoding: false })],
        ['@vercel/kv', createClient({ url, token: RO_TOKEN })],
    ]) {
        assert.equal(await c.get('k'), 'v', name);
        assert.deepEqual(await c.mget('k', '{k}none'), ['v', null], name);
        assert.deepEqual(await c.hgetall('h'), { f: 1 }, name);
        assert.equal(await c.exists('k'), 1, name);
        assert.equal(await c.ping(), 'PONG', name);
        const denied = [
            ['set', () => c.set('k', 'x')],
            ['del', () => c.del('k')],
            ['incr', () => c.incr('n')],
            ['hset', () => c.hset('h', { f: 2 })],
            ['keys', () => c.keys('*')],
            ['scan', () => c.scan(0)],
            ['flushdb', () => c.flushdb()],
            ['eval', () => c.eval("return redis.call('SET', KEYS[1], 'x')", ['k'], [])],
        ];
        for (const [cmd, f] of denied) {
            const o = await outcome(f());
            // (auto-pipelined commands fail as 'Command failed: <error>')
            got[`${name} ${cmd}`] = o.err?.includes(`NOPERM this user has no permissions to run the '${cmd}' command`) ? 'NOPERM' : o;
            want[`${name} ${cmd}`] = 'NOPERM';
        }
        const res = await outcome(c.pipeline().get('k').set('k', 'x').hget('h', 'f').exec({ keepErrors: true }));
        got[`${name} pipeline`] = res.ok?.map((e) => (e.error?.startsWith("NOPERM this user has no permissions to run the 'set' command") ? 'NOPERM' : e)) ?? res;
        want[`${name} pipeline`] = [{ error: undefined, result: 'v' }, 'NOPERM', { error: undefined, result: 1 }];
        // a transaction containing a write is refused as a whole
        const tx = await outcome(c.multi().get('k').set('k', 'x').exec());
        got[`${name} multi`] = /NOPERM/.test(tx.err ?? '') ? 'NOPERM' : tx;
        want[`${name} multi`] = 'NOPERM';
    }
    got['k in Redis'] = await io.get('k');
    want['k in Redis'] = 'v';
    got['n in Redis'] = await io.exists('n');
    want['n in Redis'] = 0;
    got['h.f in Redis'] = await io.hget('h', 'f');
    want['h.f in Redis'] = '1';
    assert.deepEqual(got, want);
});

test('policy refusals also apply to /pipeline entries (default kv policy: KEYS, FLUSHDB, SELECT refused)', async () => {
    // a kvedge with the default policy on database 6 of the same Redis (on a cluster: on the same cluster)
    const s = await startKvStackBeside(stack, { db: 6, extra: { threads: 1 } });
    const db6 = s.io;
    try {
        await clearKeys(db6);
        const c = new Redis({ url: s.url, token: RW_TOKEN, retry: false });
        assert.equal(await c.set('a', 1), 'OK');
        const refused = /^(UpstashError: )?ERR command '(keys|flushdb|select)' is not allowed over the REST API/;
        // single commands (POST /) are refused
        await assert.rejects(c.keys('*'), refused);
        await assert.rejects(c.flushdb(), refused);
        // the same commands in an explicit pipeline
        const res = await c.pipeline().get('a').keys('*').flushdb().get('a').exec({ keepErrors: true });
        const shape = res.map((e) => (e.error === undefined ? { result: e.result } : refused.test(e.error) ? 'refused' : { error: e.error }));
        const raw = await rawCommand([['SELECT', '2'], ['GET', 'a']], { path: '/pipeline', base: s.url }).then((r) => r.json);
        const rawShape = raw.map((e) => ('error' in e && refused.test(e.error) ? 'refused' : e));
        // and afterwards the shared connection still reads database 6
        const after = await outcome(c.get('a'));
        assert.deepEqual(
            { pipeline: shape, selectPipeline: rawShape, aInDb6: await db6.get('a'), getAfter: after },
            { pipeline: [{ result: 1 }, 'refused', 'refused', { result: 1 }], selectPipeline: ['refused', { result: '1' }], aInDb6: '1', getAfter: { ok: 1 } },
        );
    } finally {
        assertCleanExit(await s.stop());
    }
});

// ---------------------------------------------------------------------------------------------
// read-your-writes sync token

test('upstash-sync-token: non-empty, changes after every write (incl. pipeline, multi, EVAL), never decreases', async () => {
    const rec = recordFetch();
    const big = (s) => BigInt(s);
    try {
        const c = rw();
        const tokens = [];
        const step = async (what, f, { write = true } = {}) => {
            const before = c.readYourWritesSyncToken;
            await f();
            const after = c.readYourWritesSyncToken;
            assert.match(after, /^\S+$/, `${what}: the client holds a non-empty token`);
            if (write) assert.notEqual(after, before, `${what}: a write changes the token`);
            if (before !== '') assert.ok(big(after) >= big(before), `${what}: token never decreases (${before} -> ${after})`);
            tokens.push(after);
        };
        await step('set 1', () => c.set('a', 1));
        await step('set 2', () => c.set('a', 2));
        await step('set 3', () => c.set('b', 3));
        await step('3 concurrent sets', () => Promise.all([c.set('x', 1), c.set('y', 2), c.set('z', 3)]));
        await step('del', () => c.del('x'));
        await step('explicit pipeline', () => c.pipeline().set('p', 1).incr('p').exec());
        await step('multi', () => c.multi().set('m', 1).incr('m').exec());
        await step('eval that writes', () => c.eval("redis.call('SET', KEYS[1], ARGV[1]) return 1", ['e'], ['v']));
        await step('createScript exec that writes', () => c.createScript(`redis.call('INCR', KEYS[1]) return 1 -- ${Date.now()}`).exec(['e2'], []));
        await step('get (read)', () => c.get('a'), { write: false });
        await step('hgetall (read, single-command path)', () => c.hgetall('nohash'), { write: false });
        await step('set after reads', () => c.set('a', 4));
        // sequential writes: strictly increasing
        for (let i = 1; i < tokens.length; i++) assert.ok(big(tokens[i]) >= big(tokens[i - 1]));

        await rec.settled();
        const ours = rec.records.filter((r) => r.url.startsWith(url));
        assert.ok(ours.length >= 12);
        for (const r of ours) assert.match(r.resHeaders['upstash-sync-token'] ?? '', /^\S+$/, `${r.url}: header present`);
        // the client sends back what it got last
        for (let i = 1; i < ours.length; i++) {
            assert.equal(ours[i].reqHeaders['upstash-sync-token'], ours[i - 1].resHeaders['upstash-sync-token'], `request ${i} carries the last token`);
        }

        // a second client that sends a higher token gets at least that back
        const last = c.readYourWritesSyncToken;
        const c2 = rw();
        const higher = (big(last) + 1000n).toString();
        c2.readYourWritesSyncToken = higher;
        assert.equal(await c2.get('a'), 4, 'read-your-writes: the second client sees the write');
        assert.ok(big(c2.readYourWritesSyncToken) >= big(higher), `${c2.readYourWritesSyncToken} >= ${higher}`);
        await c2.set('a', 5);
        assert.ok(big(c2.readYourWritesSyncToken) >= big(higher));
        // raw: error replies and reads carry it too
        const r = await rawCommand(['GET', 'a'], { headers: { 'upstash-sync-token': higher } });
        assert.ok(big(r.headers.get('upstash-sync-token')) >= big(higher));
        const e = await rawCommand(['INCR', 'nonum'], { headers: { 'upstash-sync-token': last } });
        assert.ok(big(e.headers.get('upstash-sync-token')) >= big(last));
        // read-only clients get a token too
        const roc = ro();
        await roc.get('a');
        assert.match(roc.readYourWritesSyncToken, /^\S+$/);
    } finally {
        rec.restore();
    }
});

test('upstash-sync-token keeps changing after FLUSHDB through the API', async () => {
    // A FLUSHDB (allowed here) also deletes kvedge's sync counter key. Writes after it must still change the
    // token the client holds (the SDK's read-your-writes contract), and it must not go backwards.
    // (database 5 of the suite's Redis, apart from the other tests' keys; on a cluster: the same cluster)
    const s = await startKvStackBeside(stack, { db: 5, kv: { allow_flush: true } });
    try {
        const c = new Redis({ url: s.url, token: RW_TOKEN, retry: false, enableAutoPipelining: false });
        for (let i = 0; i < 20; i++) await c.set(`pre${i}`, i);
        const tokens = [c.readYourWritesSyncToken];
        const steps = ['flushdb', 'set after0', 'set after1', 'set after2'];
        assert.equal(await c.flushdb(), 'OK');
        tokens.push(c.readYourWritesSyncToken);
        for (let i = 0; i < 3; i++) {
            await c.set(`after${i}`, i);
            tokens.push(c.readYourWritesSyncToken);
        }
        const changed = Object.fromEntries(steps.map((st, i) => [st, tokens[i + 1] !== tokens[i]]));
        for (let i = 1; i < tokens.length; i++) assert.ok(BigInt(tokens[i]) >= BigInt(tokens[i - 1]), `never decreases: ${tokens}`);
        assert.deepEqual({ changed, tokens }, { changed: Object.fromEntries(steps.map((st) => [st, true])), tokens });
    } finally {
        assertCleanExit(await s.stop());
    }
});

// ---------------------------------------------------------------------------------------------
// pub/sub over SSE

/**
 * PUBLISH's answer, the number of subscribers it reached: on a Redis Cluster store only those of the node that took the
 * PUBLISH count (the message itself goes to every node), so there it is at most `want`.
 */
function assertReceivers(got, want) {
    if (CLUSTER) assert.ok(got >= 0 && got <= want, `PUBLISH reached ${got} (at most ${want} on a cluster)`);
    else assert.equal(got, want);
}

test('subscribe: messages (string and JSON) arrive; unsubscribe drops the Redis subscription within 1 s', async () => {
    const c = rw();
    const pub = rw();
    const sub = c.subscribe('chan');
    const messages = [];
    const counts = [];
    const errorsSeen = [];
    sub.on('message', (m) => messages.push(m));
    sub.on('subscribe', (n) => counts.push(n));
    sub.on('error', (e) => errorsSeen.push(e));
    try {
        await waitFor(async () => (await io.pubsub('NUMSUB', 'chan'))[1] === 1, { timeoutMs: 5000, message: 'subscribed in Redis' });
        await waitFor(() => counts.length === 1, { timeoutMs: 5000, message: 'subscribe event' });
        assert.deepEqual(counts, [1]);
        assertReceivers(await pub.publish('chan', 'hello world, with, commas'), 1);
        assertReceivers(await pub.publish('chan', { a: 1, list: ['x', 'y'], s: 'é😀' }), 1);
        assertReceivers(await pub.publish('chan', 42), 1);
        // (on a cluster a message published on another node than kvedge's may overtake kvedge's still on the cluster
        // bus: Redis Cluster orders one node's messages only, so there kvedge's three are in first)
        if (CLUSTER) await waitFor(() => messages.length === 3, { timeoutMs: 5000, message: "kvedge's 3 messages" });
        await io.publish('chan', 'from ioredis');
        await waitFor(() => messages.length === 4, { timeoutMs: 5000, message: '4 messages' });
        assert.deepEqual(messages, [
            { channel: 'chan', message: 'hello world, with, commas' },
            { channel: 'chan', message: { a: 1, list: ['x', 'y'], s: 'é😀' } },
            { channel: 'chan', message: 42 },
            { channel: 'chan', message: 'from ioredis' },
        ]);
        assert.deepEqual(errorsSeen, []);
    } finally {
        await sub.unsubscribe();
    }
    const t0 = Date.now();
    await waitFor(async () => (await io.pubsub('NUMSUB', 'chan'))[1] === 0, { timeoutMs: 1000, intervalMs: 20, message: 'NUMSUB chan back to 0 within 1 s' });
    assert.ok(Date.now() - t0 <= 1000);
    assertReceivers(await pub.publish('chan', 'nobody'), 0);
});

test('subscribe to two channels, psubscribe with a pattern; punsubscribe drops NUMPAT to 0', async () => {
    const c = rw();
    const sub = c.subscribe(['c1', 'c2']);
    const psub = c.psubscribe('news.*');
    const messages = [];
    const pmessages = [];
    const errorsSeen = [];
    sub.on('message', (m) => messages.push(m));
    psub.on('pmessage', (m) => pmessages.push(m));
    sub.on('error', (e) => errorsSeen.push(e));
    psub.on('error', (e) => errorsSeen.push(e));
    try {
        await waitFor(async () => {
            const n = await io.pubsub('NUMSUB', 'c1', 'c2');
            return n[1] === 1 && n[3] === 1 && (await io.pubsub('NUMPAT')) === 1;
        }, { timeoutMs: 5000, message: 'subscribed in Redis' });
        const pub = rw();
        await pub.publish('c1', 'one');
        await pub.publish('c2', { two: 2 });
        assertReceivers(await pub.publish('news.sport', { score: [1, 2] }), 1);
        assertReceivers(await pub.publish('news.weather', '"sunny, warm"'), 1);
        assertReceivers(await pub.publish('other', 'x'), 0);
        await waitFor(() => messages.length === 2 && pmessages.length === 2, { timeoutMs: 5000, message: 'all messages' });
        assert.deepEqual(messages.sort((a, b) => a.channel.localeCompare(b.channel)), [
            { channel: 'c1', message: 'one' },
            { channel: 'c2', message: { two: 2 } },
        ]);
        assert.deepEqual(pmessages, [
            { pattern: 'news.*', channel: 'news.sport', message: { score: [1, 2] } },
            { pattern: 'news.*', channel: 'news.weather', message: 'sunny, warm' },
        ]);
        assert.deepEqual(errorsSeen, []);
        await sub.unsubscribe(['c1']);
        await waitFor(async () => (await io.pubsub('NUMSUB', 'c1'))[1] === 0, { timeoutMs: 1000, intervalMs: 20, message: 'c1 dropped within 1 s' });
        assert.equal((await io.pubsub('NUMSUB', 'c2'))[1], 1, 'c2 still subscribed');
    } finally {
        await sub.unsubscribe();
        await psub.unsubscribe();
    }
    await waitFor(async () => (await io.pubsub('NUMPAT')) === 0 && (await io.pubsub('NUMSUB', 'c2'))[1] === 0, {
        timeoutMs: 1000,
        intervalMs: 20,
        message: 'NUMPAT and NUMSUB back to 0 within 1 s',
    });
});

// ---------------------------------------------------------------------------------------------
// errors

test('errors surface as UpstashError with the Redis text; wrong token -> WRONGPASS', async () => {
    for (const [name, make] of variants) {
        const c = make();
        await clearKeys(io);
        await c.set('s', 'x');
        const wrongtype = 'WRONGTYPE Operation against a key holding the wrong kind of value';
        for (const [what, f] of [
            ['hget', () => c.hget('s', 'f')],
            ['lpush', () => c.lpush('s', 'a')],
            ['zadd', () => c.zadd('s', { score: 1, member: 'm' })],
            ['hgetall', () => c.hgetall('s')],
        ]) {
            await assert.rejects(f(), (e) => {
                assert.ok(e instanceof UpstashError, `${name} ${what}: ${e}`);
                assert.ok(e.message.includes(wrongtype), `${name} ${what}: ${e.message}`);
                return true;
            });
        }
        await assert.rejects(c.incr('s'), /ERR value is not an integer or out of range/);
        // unknown command through the raw escape hatch (POST / with a JSON array)
        await assert.rejects(c.exec(['NOSUCHCMD', 'a']), (e) => {
            assert.ok(e instanceof UpstashError, `${name}: ${e}`);
            assert.match(e.message, /^ERR unknown command 'NOSUCHCMD'/i, name);
            return true;
        });
        // a module command this Redis lacks, through the SDK's own method
        await assert.rejects(c.json.get('j'), (e) => e instanceof UpstashError && /unknown command/i.test(e.message));
        // the server stays usable after errors
        assert.equal(await c.get('s'), 'x');
    }
    for (const bad of [
        new Redis({ url, token: 'wrong-token-0123456789abcdef', retry: false }),
        new Redis({ url, token: 'wrong-token-0123456789abcdef', retry: false, enableAutoPipelining: false }),
        createClient({ url, token: 'wrong-token-0123456789abcdef' }),
    ]) {
        await assert.rejects(bad.get('s'), (e) => {
            assert.ok(e instanceof UpstashError, String(e));
            assert.match(e.message, /^WRONGPASS invalid or missing auth token/);
            return true;
        });
    }
    const r = await fetch(url, { method: 'POST', body: '["GET","s"]' });
    assert.equal(r.status, 401);
    assert.deepEqual(await r.json(), { error: 'WRONGPASS invalid or missing auth token' });
});

test('health: GET /ping with the token (and ?_token=), SDK ping, also with the read-only token', async () => {
    for (const token of [RW_TOKEN, RO_TOKEN]) {
        const r = await fetch(`${url}/ping`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(r.status, 200);
        assert.deepEqual(await r.json(), { result: 'PONG' });
        const q = await fetch(`${url}/ping?_token=${token}`);
        assert.deepEqual(await q.json(), { result: 'PONG' });
    }
    assert.equal((await fetch(`${url}/ping`)).status, 401);
    for (const [name, make] of variants) assert.equal(await make().ping(), 'PONG', name);
    assert.equal(await ro().ping(['hello']), 'hello');
});

// ---------------------------------------------------------------------------------------------
// @vercel/kv from the environment, and the seed example

test('examples/vercel-kv-example.mjs runs unchanged against kvedge', async () => {
    const r = await runNode(['examples/vercel-kv-example.mjs'], { env: { KV_REST_API_URL: url, KV_REST_API_TOKEN: RW_TOKEN } });
    assert.equal(r.code, 0, `exit code ${r.code} signal ${r.signal}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
    const out = r.stdout;
    assert.match(out, /^get example:greeting => \{ text: 'hello from kvedge', at: '\d{4}-\d\d-\d\dT[\d:.]+Z' \}$/m);
    assert.match(out, /^mykey ttl 3(600|599)$/m);
    assert.match(out, /^lrange \[ 'c', 'b', 'a' \]$/m);
    assert.match(out, /^smembers \[ 'x', 'y' \]$/m);
    assert.match(out, /^hgetall \{ name: 'kvedge', stars: 5 \}$/m);
    assert.match(out, /^incr 1$/m);
    assert.match(out, /^scan \[\s+'example:counter',\s+'example:greeting',\s+'example:hash',\s+'example:list',\s+'example:set'\s+\]$/m);
    assert.equal(await io.get('mykey'), 'myvalue');
    // and again: the example is re-runnable (incr goes on)
    const r2 = await runNode(['examples/vercel-kv-example.mjs'], { env: { KV_REST_API_URL: url, KV_REST_API_TOKEN: RW_TOKEN } });
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /^incr 2$/m);
});

test('@vercel/kv kv / default export read KV_REST_API_URL and KV_REST_API_TOKEN from the environment', async () => {
    const script = `
        import kvDefault, { kv } from '@vercel/kv';
        await kv.set('envk', { from: 'env', n: 1 });
        console.log('get', JSON.stringify(await kv.get('envk')));
        console.log('default', JSON.stringify(await kvDefault.incr('envn')));
        const keys = [];
        for await (const k of kv.scanIterator({ match: 'env*' })) keys.push(k);
        console.log('scan', JSON.stringify(keys.sort()));
        await kv.set('x', 1).then(() => console.log('ro-set ok'), (e) => console.log('err', e.message));
    `;
    const r = await runNode(['--input-type=module', '-e', script], { env: { KV_REST_API_URL: url, KV_REST_API_TOKEN: RW_TOKEN } });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^get \{"from":"env","n":1\}$/m);
    assert.match(r.stdout, /^default 1$/m);
    assert.match(r.stdout, /^scan \["envk","envn"\]$/m);
    assert.match(r.stdout, /^ro-set ok$/m);
    assert.equal(await io.get('envk'), '{"from":"env","n":1}');

    // the read-only token from the environment: reads work, a write is NOPERM
    const roScript = `
        import kvDefault, { kv } from '@vercel/kv';
        console.log('get', JSON.stringify(await kv.get('envk')));
        console.log('default', JSON.stringify(await kvDefault.get('envn')));
        await kv.set('x', 1).then(() => console.log('ro-set ok'), (e) => console.log('err', e.message));
    `;
    const r2 = await runNode(['--input-type=module', '-e', roScript], {
        env: { KV_REST_API_URL: url, KV_REST_API_TOKEN: RO_TOKEN },
    });
    assert.equal(r2.code, 0, `${r2.stdout}\n${r2.stderr}`);
    assert.match(r2.stdout, /^get \{"from":"env","n":1\}$/m);
    assert.match(r2.stdout, /^default 1$/m);
    assert.match(r2.stdout, /^err (Command failed: )?NOPERM this user has no permissions to run the 'set' command/m);
});

// ---------------------------------------------------------------------------------------------
// database number

test('redis URL with /3: SDK writes land in database 3 (on a cluster store, database 0 only: SELECT is refused)', async () => {
    if (CLUSTER) {
        // no URL names a database on a cluster store; a client's SELECT is refused, and its writes stay in database 0
        const sel = await rawCommand(['SELECT', '3']);
        assert.equal(sel.status, 400, JSON.stringify(sel.json));
        assert.match(sel.json.error, /SELECT|Cluster/i);
        const c = new Redis({ url, token: RW_TOKEN, retry: false });
        assert.equal(await c.set('dbk', { db: 0 }), 'OK');
        assert.equal(await io.get('dbk'), '{"db":0}');
        return;
    }
    const s = await startKvStack({ redis: stack.redis, db: 3 });
    const db3 = stack.redis.client();
    try {
        await db3.select(3);
        await clearKeys(db3);
        const c = new Redis({ url: s.url, token: RW_TOKEN, retry: false });
        assert.equal(await c.set('dbk', { db: 3 }), 'OK');
        await c.pipeline().hset('dbh', { f: 1 }).incr('dbn').exec();
        await c.multi().sadd('dbs', 'a').exec();
        assert.equal(await db3.get('dbk'), '{"db":3}');
        assert.equal(await db3.hget('dbh', 'f'), '1');
        assert.equal(await db3.get('dbn'), '1');
        assert.equal(await db3.sismember('dbs', 'a'), 1);
        assert.equal(await io.exists('dbk', 'dbh', 'dbn', 'dbs'), 0, 'nothing in database 0');
        assert.deepEqual(await c.get('dbk'), { db: 3 });
        const [, keys] = await c.scan(0, { count: 1000, match: 'db*' });
        assert.deepEqual(keys.sort(), ['dbh', 'dbk', 'dbn', 'dbs']);
        assert.equal(await db3.dbsize(), 4, 'only the user\'s keys: no sync counter');
    } finally {
        db3.disconnect();
        assertCleanExit(await s.stop());
    }
});
