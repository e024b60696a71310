// The KV REST API (Upstash / Vercel KV protocol, ../../../shared/docs/kv-rest-protocol.md) over raw HTTP:
// request forms (JSON body, path, body-as-last-argument, query), /pipeline and /multi-exec, base64 and
// resp2 encodings, status codes and limits, static tokens and JWTs, the command policy, sync tokens,
// CORS, server-sent events, Redis outages, and a KV listener of its own. Every reply is checked for its
// exact status, content type and JSON body; Redis itself is checked with ioredis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import httpMod from 'node:http';
import {
    assertCleanExit,
    freePort,
    http,
    rawRequest,
    runKvedge,
    SANITIZE,
    sleep,
    startKvedge,
    startRedis,
    stopKvedgeThen,
    waitFor,
    writeConfig,
} from './harness.mjs';
import { openStream as openSseStream } from './kv_helpers.mjs';

const RW = 'rw-token-0123456789abcdef';
const RO = 'ro-token-0123456789abcdef';
const JWT_KEY = 'jwt-key-0123456789abcdef0123456789abcdef';
const TOKENS = [{ token: RW }, { token: RO, access: 'read-only' }];
const WRONGPASS = { error: 'WRONGPASS invalid or missing auth token' };
const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
/** time bounds are stretched in sanitizer builds */
const SLOW = SANITIZE ? 3 : 1;

let redis, k, rc, api;

before(async () => {
    redis = await startRedis();
    rc = redis.client();
    k = await startKvedge({
        threads: 2,
        redis: redis.url,
        kv: {
            tokens: TOKENS,
            jwt_key: JWT_KEY,
            max_request_size: '1MiB',
            max_key_size: '1KiB',
            max_reply_size: '64KiB',
            max_commands: 1000,
            heartbeat: '2s',
            allow_commands: ['monitor'], // the /monitor endpoint (refused unless listed)
        },
    });
    api = `${k.url}/kv`;
});

after(async () => {
    try {
        if (k) assertCleanExit(await k.stop());
    } finally {
        await redis?.stop();
    }
});

// ---------------------------------------------------------------------------------------------
// helpers

const auth = (token = RW) => ({ authorization: `Bearer ${token}` });

function bodyOf(body) {
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) return body;
    return JSON.stringify(body);
}

/** A request to `base + path`; body: a JS value (sent as JSON), a string or a Buffer (sent as is). */
function req(method, path, { body, token = RW, headers = {}, agent, base = api } = {}) {
    const h = { ...(token ? auth(token) : {}), ...headers };
    return http(method, `${base}${path}`, { headers: h, body: bodyOf(body), agent });
}

const post = (path, body, opts = {}) => req('POST', path, { ...opts, body });
/** POST <api> with a JSON command */
const cmd = (command, opts = {}) => post('', command, opts);

/** The JSON body of a response (its content type must be application/json). */
function json(r) {
    assert.equal(r.headers['content-type'], 'application/json', `content type of ${r.status} ${r.body.slice(0, 200)}`);
    try {
        return JSON.parse(r.body);
    } catch (e) {
        assert.fail(`not JSON (${e.message}): ${JSON.stringify(r.body.slice(0, 300))}`);
    }
}

/** Asserts status and exact JSON body. */
function expectJson(r, status, body, what = '') {
    assert.equal(r.status, status, `${what} status (body ${r.body.slice(0, 300)})`);
    assert.deepEqual(json(r), body, what);
}

/** Asserts a 400 with {"error": <text matching re>} and returns the text. */
function expectError(r, status, re, what = '') {
    assert.equal(r.status, status, `${what} status (body ${r.body.slice(0, 300)})`);
    const b = json(r);
    assert.deepEqual(Object.keys(b), ['error'], `${what}: only an error key`);
    assert.equal(typeof b.error, 'string');
    if (re instanceof RegExp) assert.match(b.error, re, what);
    else assert.equal(b.error, re, what);
    return b.error;
}

const b64 = (s) => Buffer.from(s).toString('base64');

function b64url(v) {
    return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
}

/** A JWT with the given header and claims, HMAC-signed with `hash` (null: empty signature). */
function makeJwt(header, claims, { key = JWT_KEY, hash = 'sha256' } = {}) {
    const signing = `${b64url(header)}.${b64url(claims)}`;
    const sig = hash ? crypto.createHmac(hash, key).update(signing).digest('base64url') : '';
    return `${signing}.${sig}`;
}

function nowSec() {
    return Math.floor(Date.now() / 1000);
}

/** The SDKs open streams with POST and an empty JSON array body. */
const openStream = (url, opts = {}) => openSseStream(url, { method: 'POST', body: '[]', ...opts });

async function numsub(channel) {
    const [, n] = await rc.pubsub('NUMSUB', channel);
    return Number(n);
}

// =============================================================================================
// JSON command form

test('POST /kv with a JSON command: SET, GET, and a missing key is exactly {"result":null}', async () => {
    expectJson(await cmd(['SET', 'jc:k', 'v']), 200, { result: 'OK' });
    expectJson(await cmd(['GET', 'jc:k']), 200, { result: 'v' });
    assert.equal(await rc.get('jc:k'), 'v');
    const r = await cmd(['GET', 'jc:nokey']);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.body, '{"result":null}');
    expectJson(await post('/', ['GET', 'jc:k']), 200, { result: 'v' }, 'POST /kv/ (trailing slash)');
});

test('numbers keep their literal text, booleans become "true"/"false"', async () => {
    expectJson(await cmd(['SET', 'jc:n', 100]), 200, { result: 'OK' });
    assert.equal(await rc.get('jc:n'), '100');
    expectJson(await cmd(['INCRBYFLOAT', 'jc:n', 0.5]), 200, { result: '100.5' });
    expectJson(await cmd('["SET","jc:e",1e+21]'), 200, { result: 'OK' });
    assert.equal(await rc.get('jc:e'), '1e+21');
    expectJson(await cmd('["SET","jc:f",100.50]'), 200, { result: 'OK' });
    assert.equal(await rc.get('jc:f'), '100.50');
    expectJson(await cmd('["SET","jc:m",-3]'), 200, { result: 'OK' });
    assert.equal(await rc.get('jc:m'), '-3');
    expectJson(await cmd(['SET', 'jc:b', true]), 200, { result: 'OK' });
    expectJson(await cmd(['GET', 'jc:b']), 200, { result: 'true' });
    expectJson(await cmd(['SET', 'jc:b2', false]), 200, { result: 'OK' });
    assert.equal(await rc.get('jc:b2'), 'false');
    expectJson(await cmd(['EXPIRE', 'jc:b2', 100]), 200, { result: 1 });
});

test('any content type is accepted (curl -d sends application/x-www-form-urlencoded)', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expectJson(await cmd('["PING"]', { headers: form }), 200, { result: 'PONG' });
    expectJson(await cmd('["SET","jc:form","v"]', { headers: form }), 200, { result: 'OK' });
    assert.equal(await rc.get('jc:form'), 'v');
    expectJson(await cmd('["ECHO","x"]', { headers: { 'content-type': 'text/plain' } }), 200, { result: 'x' });
    expectJson(await cmd('["ECHO","x"]'), 200, { result: 'x' }, 'no content type at all');
});

test('command names are case-insensitive, PUT works like POST, SDK headers are tolerated', async () => {
    expectJson(await cmd(['sEt', 'jc:case', 'v']), 200, { result: 'OK' });
    expectJson(await cmd(['get', 'jc:case']), 200, { result: 'v' });
    expectJson(await req('PUT', '', { body: ['SET', 'jc:put', 'p'] }), 200, { result: 'OK' });
    assert.equal(await rc.get('jc:put'), 'p');
    expectJson(await req('PUT', '/set/jc:put2/q'), 200, { result: 'OK' });
    assert.equal(await rc.get('jc:put2'), 'q');
    const sdk = {
        'content-type': 'application/json',
        'upstash-sync-token': '',
        'upstash-telemetry-runtime': 'node@v20.20.2',
        'upstash-telemetry-platform': 'unknown',
        'upstash-telemetry-sdk': '@upstash/redis@v1.39.0',
        'upstash-telemetry-retry': '1',
        pragma: 'no-cache',
        'cache-control': 'no-cache',
        accept: '*/*',
        'accept-encoding': 'gzip, deflate',
        'user-agent': 'node',
    };
    expectJson(await cmd(['GET', 'jc:put'], { headers: sdk }), 200, { result: 'p' });
});

// =============================================================================================
// path form

test('path form: /set/foo/bar, /get/foo, percent-decoding, GET and HEAD', async () => {
    expectJson(await req('GET', '/set/pf:foo/bar'), 200, { result: 'OK' });
    expectJson(await req('GET', '/get/pf:foo'), 200, { result: 'bar' });
    expectJson(await post('/get/pf:foo'), 200, { result: 'bar' }, 'POST without body');
    expectJson(await req('GET', '/SET/a%2Fb/x'), 200, { result: 'OK' });
    assert.equal(await rc.get('a/b'), 'x');
    expectJson(await req('GET', '/set/pf:sp/a%20b'), 200, { result: 'OK' });
    assert.equal(await rc.get('pf:sp'), 'a b');
    expectJson(await req('GET', '/get/pf:foo/'), 200, { result: 'bar' }, 'one trailing slash is ignored');
    const h = await req('HEAD', '/get/pf:foo');
    assert.equal(h.status, 200);
    assert.equal(h.body, '');
    assert.equal(h.headers['content-type'], 'application/json');
    const h2 = await http('HEAD', `${api}/ping?_token=${RW}`);
    assert.equal(h2.status, 200);
    assert.equal(h2.body, '');
    expectError(await req('GET', '/foo'), 400, /^ERR unknown command 'foo'/);
    assert.equal((await req('GET', '/ping', { base: `${k.url}/kvx` })).status, 404, '/kvx is not the API');
    expectError(await req('GET', ''), 400, /^ERR empty command/, 'GET /kv');
});

test('path form: the raw body is the last argument (not parsed as JSON)', async () => {
    expectJson(await post('/set/pf:j', '{"a":1}'), 200, { result: 'OK' });
    assert.equal(await rc.get('pf:j'), '{"a":1}');
    expectJson(await req('GET', '/get/pf:j'), 200, { result: '{"a":1}' });
    expectJson(await post('/set/pf:t', '"test"'), 200, { result: 'OK' });
    assert.equal(await rc.strlen('pf:t'), 6);
    assert.equal(await rc.get('pf:t'), '"test"');
    expectJson(await req('PUT', '/set/pf:put', { body: 'put body' }), 200, { result: 'OK' });
    assert.equal(await rc.get('pf:put'), 'put body');
    // binary body bytes arrive unchanged
    const bin = Buffer.from([0, 1, 2, 0xff, 0x80, 10, 13]);
    expectJson(await post('/set/pf:bin', bin), 200, { result: 'OK' });
    assert.deepEqual(await rc.getBuffer('pf:bin'), bin);
});

test('path form: query pairs are appended after the body; ?NX without a value is one argument', async () => {
    expectJson(await post('/set/pf:q?EX=100', 'v'), 200, { result: 'OK' });
    assert.equal(await rc.get('pf:q'), 'v');
    const ttl = await rc.ttl('pf:q');
    assert.ok(ttl >= 99 && ttl <= 100, `TTL ${ttl}`);
    await rc.del('pf:nx');
    expectJson(await req('GET', '/set/pf:nx/first?NX'), 200, { result: 'OK' });
    expectJson(await req('GET', '/set/pf:nx/second?NX'), 200, { result: null });
    assert.equal(await rc.get('pf:nx'), 'first');
    expectJson(await post('/set/pf:q2?NX&EX=50', 'w'), 200, { result: 'OK' });
    const ttl2 = await rc.ttl('pf:q2');
    assert.ok(ttl2 >= 49 && ttl2 <= 50, `TTL ${ttl2}`);
});

test('?_token= authenticates, is never passed on as an argument, and the header wins over it', async () => {
    expectJson(await req('GET', `/echo/a?_token=${RW}`, { token: null }), 200, { result: 'a' });
    expectJson(await req('GET', `/set/pf:tk/v?_token=${RW}`, { token: null }), 200, { result: 'OK' });
    assert.equal(await rc.get('pf:tk'), 'v');
    expectJson(await req('GET', `/set/pf:tk2/v?_token=${RW}&EX=60`, { token: null }), 200, { result: 'OK' });
    assert.ok((await rc.ttl('pf:tk2')) > 0);
    expectJson(await req('GET', `/get/pf:tk?_token=${encodeURIComponent(RW)}`, { token: null }), 200, { result: 'v' });
    expectJson(await req('GET', '/get/pf:tk?_token=wrong-token-0123456789'), 200, { result: 'v' }, 'right header, wrong _token');
    expectJson(await req('GET', `/get/pf:tk?_token=${RW}`, { token: 'wrong-token-0123456789' }), 401, WRONGPASS,
        'wrong header, right _token');
    expectJson(await req('GET', `/get/pf:tk?_token=${RO}`, { token: null }), 200, { result: 'v' }, 'read-only _token reads');
    expectError(await req('GET', `/set/pf:tk/w?_token=${RO}`, { token: null }), 400, /^NOPERM .*'set'/);
});

test('methods other than GET, HEAD, POST, PUT get 405 with a JSON error and Allow', async () => {
    for (const [method, path] of [['DELETE', ''], ['DELETE', '/del/x'], ['PATCH', '/set/x/y'], ['OPTIONS', '']]) {
        const r = await req(method, path, { body: method === 'PATCH' ? '["PING"]' : undefined });
        expectJson(r, 405, { error: 'ERR method not allowed' }, `${method} ${path}`);
        assert.equal(r.headers.allow, 'GET, HEAD, POST, PUT', `${method} Allow`);
    }
});

// =============================================================================================
// /pipeline

test('/pipeline: per-entry results and errors exactly as the checklist', async () => {
    await rc.del('pl:k');
    const r = await post('/pipeline', [['SET', 'pl:k', 'v'], ['INCR', 'pl:k'], ['GET', 'pl:k']]);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.body, '[{"result":"OK"},{"error":"ERR value is not an integer or out of range"},{"result":"v"}]');
    expectJson(await post('/pipeline/', [['GET', 'pl:k']]), 200, [{ result: 'v' }], 'trailing slash');
    expectJson(await post('/pipeline', [['GET', 'pl:none'], ['HGET', 'pl:k', 'f']]), 200,
        [{ result: null }, { error: WRONGTYPE }]);
});

test('/pipeline: 1000 INCRs give 1000 entries in order; success entries have no error key, errors no result key', async () => {
    await rc.del('pl:p');
    const r = await post('/pipeline', Array.from({ length: 1000 }, () => ['INCR', 'pl:p']));
    const b = json(r);
    assert.equal(r.status, 200);
    assert.equal(b.length, 1000);
    b.forEach((e, i) => assert.deepEqual(e, { result: i + 1 }));
    assert.equal(b.at(-1).result, 1000);
    assert.equal(await rc.get('pl:p'), '1000');
    const mixed = json(await post('/pipeline', [['PING'], ['NOSUCHCMD'], ['GET', 'pl:none'], ['LPUSH', 'pl:p', 'x']]));
    assert.deepEqual(Object.keys(mixed[0]), ['result']);
    assert.deepEqual(Object.keys(mixed[1]), ['error']);
    assert.deepEqual(Object.keys(mixed[2]), ['result']);
    assert.equal(mixed[2].result, null);
    assert.deepEqual(mixed[3], { error: WRONGTYPE });
});

test('/pipeline: over kv.max_commands, empty, not an array, or an inner non-array gives 400', async () => {
    expectError(await post('/pipeline', Array.from({ length: 1001 }, () => ['PING'])), 400,
        /^ERR too many commands in one request/);
    expectError(await post('/pipeline', []), 400, /^ERR /, 'empty');
    expectError(await post('/pipeline', '[]'), 400, /^ERR /, 'empty');
    expectError(await post('/pipeline', { a: 1 }), 400, /^ERR /, 'object');
    expectError(await post('/pipeline', '"x"'), 400, /^ERR /, 'string');
    expectError(await post('/pipeline', ['PING']), 400, /^ERR /, 'a single command');
    expectError(await post('/pipeline', '[["PING"],"x"]'), 400, /^ERR command 2 must be a JSON array/, 'inner string');
    expectError(await post('/pipeline', '[["PING"],{"a":1}]'), 400, /^ERR /, 'inner object');
    expectError(await post('/pipeline', '[["PING"],[]]'), 400, /^ERR command 2 is empty/, 'inner empty');
    expectError(await post('/pipeline', '[["PING"],[["x"]]]'), 400, /^ERR /, 'nested deeper');
    expectError(await post('/pipeline'), 400, /^ERR /, 'no body');
    const full = await post('/pipeline', Array.from({ length: 1000 }, () => ['PING']));
    assert.equal(full.status, 200, 'exactly max_commands is fine');
    assert.equal(json(full).length, 1000);
});

test('/pipeline: a refused command (BLPOP, an oversized key) is a per-entry error and is not run; the rest run', async () => {
    await rc.del('pl:list');
    await rc.rpush('pl:list', 'a');
    const r = await post('/pipeline', [['SET', 'pl:x', '1'], ['BLPOP', 'pl:list', '1'], ['LLEN', 'pl:list'], ['GET', 'pl:x']]);
    const b = json(r);
    assert.equal(r.status, 200);
    assert.equal(b.length, 4);
    assert.deepEqual(b[0], { result: 'OK' });
    assert.deepEqual(Object.keys(b[1]), ['error'], `BLPOP entry: ${JSON.stringify(b[1])}`);
    assert.match(b[1].error, /^ERR command 'blpop' is not allowed/);
    assert.deepEqual(b[2], { result: 1 }, 'BLPOP did not pop');
    assert.deepEqual(b[3], { result: '1' });
    assert.equal(await rc.llen('pl:list'), 1, 'the list is untouched in Redis');
    const key = 'k'.repeat(1025);
    expectJson(await post('/pipeline', [['SET', key, 'v'], ['PING']]), 200,
        [{ error: 'ERR max key size exceeded. Limit: 1024 bytes, Actual: 1025 bytes' }, { result: 'PONG' }]);
    assert.equal(await rc.exists(key), 0, 'the oversized key was not written');
});

test('COPY k k answers 0 in place inside /pipeline and /multi-exec too (one entry per command)', async () => {
    await rc.set('cp:k', 'v');
    expectJson(await cmd(['COPY', 'cp:k', 'cp:k']), 200, { result: 0 });
    expectJson(await post('/pipeline', [['COPY', 'cp:k', 'cp:k'], ['GET', 'cp:k']]), 200, [{ result: 0 }, { result: 'v' }],
        '/pipeline');
    expectJson(await post('/multi-exec', [['COPY', 'cp:k', 'cp:k'], ['GET', 'cp:k']]), 200, [{ result: 0 }, { result: 'v' }],
        '/multi-exec');
});

test('a refused MULTI or SELECT inside /pipeline must not change the shared Redis connection', async () => {
    // one thread: every request shares one Redis connection
    const r2 = await startRedis();
    const k2 = await startKvedge({ threads: 1, redis: r2.url, kv: { tokens: TOKENS } });
    const base = `${k2.url}/kv`;
    try {
        const c2 = r2.client();
        const p1 = json(await post('/pipeline', [['MULTI']], { base }));
        const after1 = await cmd(['SET', 'ms:m', '1'], { base });
        const p2 = json(await post('/pipeline', [['SELECT', '1']], { base }));
        const after2 = await cmd(['SET', 'ms:s', '1'], { base });
        // undo whatever happened, so the instance stops cleanly either way
        await post('/pipeline', [['DISCARD'], ['SELECT', '0']], { base });
        assert.match(p1[0].error ?? '', /^ERR command 'multi' is not allowed/, `MULTI entry ${JSON.stringify(p1)}`);
        expectJson(after1, 200, { result: 'OK' }, 'SET after a pipelined MULTI');
        assert.match(p2[0].error ?? '', /^ERR command 'select' is not allowed/, `SELECT entry ${JSON.stringify(p2)}`);
        expectJson(after2, 200, { result: 'OK' });
        assert.equal(await c2.get('ms:s'), '1', 'SET after a pipelined SELECT went to db 0');
    } finally {
        await stopKvedgeThen(k2, r2);
    }
});

// =============================================================================================
// /multi-exec

test('/multi-exec: an array of results', async () => {
    await rc.del('mx:a', 'mx:c');
    expectJson(await post('/multi-exec', [['SET', 'mx:a', '1'], ['INCR', 'mx:a'], ['GET', 'mx:a'], ['GET', 'mx:none']]), 200,
        [{ result: 'OK' }, { result: 2 }, { result: '2' }, { result: null }]);
    expectJson(await post('/multi-exec/', [['GET', 'mx:a']]), 200, [{ result: '2' }]);
});

test('/multi-exec: an unknown command discards the whole transaction with 400', async () => {
    await rc.del('mx:b');
    expectError(await post('/multi-exec', [['SET', 'mx:b', '1'], ['NOSUCHCMD']]), 400, /^ERR unknown command 'NOSUCHCMD'/);
    assert.equal(await rc.exists('mx:b'), 0, 'mx:b was not set');
    expectError(await post('/multi-exec', [['SET', 'mx:b', '1'], ['GET']]), 400, /^ERR wrong number of arguments/);
    assert.equal(await rc.exists('mx:b'), 0);
    expectError(await post('/multi-exec', []), 400, /^ERR /);
    expectError(await post('/multi-exec', '[["SET","mx:b","1"],"x"]'), 400, /^ERR /);
    assert.equal(await rc.exists('mx:b'), 0);
});

test('/multi-exec: a run-time error is an entry and the other commands are applied', async () => {
    await rc.del('mx:s', 'mx:t');
    expectJson(await post('/multi-exec', [['SET', 'mx:s', 'x'], ['INCR', 'mx:s'], ['SET', 'mx:t', '1']]), 200,
        [{ result: 'OK' }, { error: 'ERR value is not an integer or out of range' }, { result: 'OK' }]);
    assert.equal(await rc.get('mx:s'), 'x');
    assert.equal(await rc.get('mx:t'), '1');
});

test('/multi-exec: a refused command (WATCH, BLPOP) refuses the whole request and nothing is applied', async () => {
    await rc.del('mx:w', 'mx:l');
    await rc.rpush('mx:l', 'a');
    expectError(await post('/multi-exec', [['SET', 'mx:w', '1'], ['WATCH', 'mx:w']]), 400, /^ERR command 'watch' is not allowed/);
    expectError(await post('/multi-exec', [['SET', 'mx:w', '1'], ['BLPOP', 'mx:l', '1']]), 400, /^ERR command 'blpop' is not allowed/);
    expectError(await post('/multi-exec', [['SET', 'mx:w', '1'], ['MULTI']]), 400, /^ERR command 'multi' is not allowed/);
    assert.equal(await rc.exists('mx:w'), 0);
    assert.equal(await rc.llen('mx:l'), 1);
    expectError(await post('/multi-exec', [['SET', 'mx:w', '1']], { headers: { 'upstash-response-format': 'resp2' } }), 400, /^ERR /,
        'resp2 does not apply to /multi-exec');
    assert.equal(await rc.exists('mx:w'), 0);
});

test('/multi-exec: 100 concurrent transactions are atomic (consecutive values, final 200)', async () => {
    await rc.del('mx:c');
    const rs = await Promise.all(Array.from({ length: 100 }, () => post('/multi-exec', [['INCR', 'mx:c'], ['INCR', 'mx:c']])));
    const seen = [];
    for (const r of rs) {
        const b = json(r);
        assert.equal(r.status, 200, r.body);
        assert.equal(b.length, 2);
        assert.equal(b[1].result, b[0].result + 1, `consecutive: ${r.body}`);
        seen.push(b[0].result, b[1].result);
    }
    assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 1));
    assert.equal(await rc.get('mx:c'), '200');
});

// =============================================================================================
// encodings

test('Upstash-Encoding: base64: strings encoded, top-level OK raw, numbers/null/errors untouched', async () => {
    const enc = { headers: { 'upstash-encoding': 'base64' } };
    await rc.set('b6:k', 'v');
    expectJson(await cmd(['GET', 'b6:k'], enc), 200, { result: 'dg==' });
    expectJson(await cmd(['SET', 'b6:ok', 'OK'], enc), 200, { result: 'OK' });
    expectJson(await cmd(['PING'], enc), 200, { result: 'UE9ORw==' });
    expectJson(await cmd(['GET', 'b6:ok'], enc), 200, { result: 'T0s=' }, 'a stored "OK" is a bulk string');
    expectJson(await cmd(['MGET', 'b6:ok', 'b6:none'], enc), 200, { result: ['T0s=', null] });
    await rc.del('b6:n');
    expectJson(await cmd(['INCR', 'b6:n'], enc), 200, { result: 1 });
    expectJson(await cmd(['GET', 'b6:none'], enc), 200, { result: null });
    expectJson(await cmd(['HGET', 'b6:k', 'f'], enc), 400, { error: WRONGTYPE }, 'errors are not encoded');
    expectJson(await cmd(['TYPE', 'b6:k'], enc), 200, { result: b64('string') });
    expectJson(await cmd(['GET', 'b6:k'], { headers: { 'upstash-encoding': 'BASE64' } }), 200, { result: 'dg==' }, 'value case');
    expectJson(await post('/pipeline', [['GET', 'b6:k'], ['INCR', 'b6:k']], enc), 200,
        [{ result: 'dg==' }, { error: 'ERR value is not an integer or out of range' }]);
});

test('base64: every element of nested arrays is encoded (HGETALL, ZRANGE WITHSCORES, LRANGE, SCAN)', async () => {
    const enc = { headers: { 'upstash-encoding': 'base64' } };
    await rc.del('b6:h', 'b6:z', 'b6:l');
    await rc.hset('b6:h', 'f1', 'v1');
    await rc.zadd('b6:z', 1.5, 'm');
    await rc.rpush('b6:l', 'OK', 'x', '');
    expectJson(await cmd(['HGETALL', 'b6:h'], enc), 200, { result: [b64('f1'), b64('v1')] });
    expectJson(await cmd(['ZRANGE', 'b6:z', 0, -1, 'WITHSCORES'], enc), 200, { result: [b64('m'), b64('1.5')] });
    expectJson(await cmd(['LRANGE', 'b6:l', 0, -1], enc), 200, { result: ['T0s=', 'eA==', ''] });
    expectJson(await cmd(['SCAN', '0', 'MATCH', 'b6:h', 'COUNT', '1000'], enc), 200, { result: [b64('0'), [b64('b6:h')]] });
    expectJson(await cmd(['EVAL', "return {'OK', {'a', 1}}", '0'], enc), 200, { result: ['T0s=', ['YQ==', 1]] });
});

test('without base64: invalid UTF-8 becomes U+FFFD, control characters are escaped, JSON stays valid', async () => {
    expectJson(await post('/set/nb:raw', Buffer.from([0xff, 0xfe])), 200, { result: 'OK' });
    assert.deepEqual(await rc.getBuffer('nb:raw'), Buffer.from([0xff, 0xfe]));
    const r = await req('GET', '/get/nb:raw');
    assert.ok(!r.bodyBuffer.includes(0xff), 'no raw invalid byte in the body');
    expectJson(r, 200, { result: '\uFFFD\uFFFD' });
    await rc.set('nb:mixed', Buffer.from([0x61, 0xc3, 0x28, 0x62, 0xe2, 0x82, 0xac]));
    expectJson(await cmd(['GET', 'nb:mixed']), 200, { result: 'a\uFFFD(b\u20AC' });
    const ctl = 'a\u0000b\u0001\u001f\n\r\t"\\/\u007f\u00e9\u{1F600}';
    await rc.set('nb:ctl', ctl);
    const c = await cmd(['GET', 'nb:ctl']);
    assert.ok(!/[\u0000-\u001f]/.test(c.body), `control characters escaped: ${JSON.stringify(c.body)}`);
    expectJson(c, 200, { result: ctl });
    expectJson(await cmd(['SET', 'nb:json', 'a"b\\c\n\u00e9\u{1F600}']), 200, { result: 'OK' });
    assert.equal(await rc.get('nb:json'), 'a"b\\c\n\u00e9\u{1F600}', 'JSON escapes in requests are decoded');
});

test('RESP2 shapes: SCAN cursor is a JSON string, HGETALL flat, scores strings, booleans integers', async () => {
    await rc.del('sh:h', 'sh:z', 'sh:s');
    await rc.hset('sh:h', 'f', 'v');
    await rc.zadd('sh:z', 1.5, 'm');
    await rc.sadd('sh:s', 'a');
    const r = await cmd(['SCAN', 0, 'MATCH', 'sh:*', 'COUNT', 1000]);
    assert.match(r.body, /^\{"result":\["0",\[/);
    const b = json(r);
    assert.equal(b.result[0], '0');
    assert.deepEqual(b.result[1].sort(), ['sh:h', 'sh:s', 'sh:z']);
    expectJson(await cmd(['HGETALL', 'sh:h']), 200, { result: ['f', 'v'] });
    expectJson(await cmd(['ZRANGE', 'sh:z', 0, -1, 'WITHSCORES']), 200, { result: ['m', '1.5'] });
    expectJson(await cmd(['SISMEMBER', 'sh:s', 'a']), 200, { result: 1 });
    expectJson(await cmd(['HGETALL', 'sh:none']), 200, { result: [] });
    expectJson(await cmd(['EVALSHA', 'f'.repeat(40), 0]), 400, { error: 'NOSCRIPT No matching script. Please use EVAL.' });
});

test('Upstash-Response-Format: resp2 gives raw RESP2; with base64 or an unknown value 400', async () => {
    await rc.set('r2:k', 'v');
    const fmt = { 'upstash-response-format': 'resp2' };
    let r = await cmd(['SET', 'r2:k', 'v'], { headers: fmt });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.body, '+OK\r\n');
    r = await cmd(['GET', 'r2:k'], { headers: fmt });
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.body, '$1\r\nv\r\n');
    r = await req('GET', '/get/r2:none', { headers: fmt });
    assert.equal(r.body, '$-1\r\n');
    r = await cmd(['INCR', 'r2:k'], { headers: fmt });
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.ok(r.body.startsWith('-ERR value is not an integer'), r.body);
    r = await cmd(['GET', 'r2:k'], { headers: { 'upstash-response-format': 'json' } });
    expectJson(r, 200, { result: 'v' }, 'format json');
    expectError(await cmd(['GET', 'r2:k'], { headers: { ...fmt, 'upstash-encoding': 'base64' } }), 400, /^ERR /);
    expectError(await cmd(['GET', 'r2:k'], { headers: { 'upstash-response-format': 'xml' } }), 400, /^ERR /);
});

// =============================================================================================
// status codes and limits

test('WRONGTYPE on a single command is 400 with the exact Redis text', async () => {
    await rc.set('st:s', 'x');
    expectJson(await cmd(['LPUSH', 'st:s', 'a']), 400, { error: WRONGTYPE });
    expectJson(await cmd(['GET']), 400, { error: "ERR wrong number of arguments for 'get' command" });
});

test('malformed JSON bodies get 400 {"error":"ERR ..."}', async () => {
    const bodies = ['["SET","x"', 'not json', '["a",]', '[,"a"]', '["a" "b"]', '["a\\x"]', '["\\ud800"]', '["a"] x', '[01]',
        '[1.]', '[tru]', '[nul]', '"SET"', '{"0":"PING"}', '42', '   ', ']'];
    for (const body of bodies) expectError(await cmd(body), 400, /^ERR /, `body ${JSON.stringify(body)}`);
    // not a command: nested arrays/objects, null, empty
    expectError(await cmd('["SET","k",["a"]]'), 400, /^ERR argument 3 is an array/);
    expectError(await cmd('["SET","k",{"a":1}]'), 400, /^ERR argument 3 is an object/);
    expectError(await cmd('[["PING"]]'), 400, /^ERR /);
    expectError(await cmd('["SET","k",null]'), 400, /^ERR argument 3 is null/);
    expectError(await cmd('[]'), 400, /^ERR empty command/);
    expectError(await cmd(''), 400, /^ERR /, 'empty body');
    expectError(await post(''), 400, /^ERR /, 'no body');
    expectError(await cmd(Buffer.from('["SET","k","\xff"]', 'latin1')), 400, /^ERR invalid UTF-8/);
    expectError(await cmd(Buffer.from('["SET","k","\xc0\xaf"]', 'latin1')), 400, /^ERR invalid UTF-8/, 'overlong');
    expectError(await cmd(Buffer.from('["SET","k","a\x01"]', 'latin1')), 400, /^ERR /, 'raw control character');
    assert.equal(await rc.exists('k'), 0, 'none of them ran');
});

test('a body over kv.max_request_size gets 400 "ERR max request size exceeded" and kvedge stays healthy', async (t) => {
    const limit = 1024 * 1024;
    const over = await post('/set/lim:big', Buffer.alloc(limit + 1, 0x61));
    expectJson(over, 400, { error: 'ERR max request size exceeded' });
    assert.equal(await rc.exists('lim:big'), 0);
    const overJson = await cmd(JSON.stringify(['SET', 'lim:big', 'x'.repeat(limit)]));
    expectJson(overJson, 400, { error: 'ERR max request size exceeded' }, 'JSON body');
    const underSize = limit - 64;
    expectJson(await post('/set/lim:ok', Buffer.alloc(underSize, 0x62)), 200, { result: 'OK' }, 'just under the limit');
    assert.equal(await rc.strlen('lim:ok'), underSize);
    // chunked, over the limit
    const chunk = 'c'.repeat(256 * 1024);
    let raw = `POST /kv/set/lim:chunked HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${RW}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
    for (let i = 0; i < 5; i++) raw += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    raw += '0\r\n\r\n';
    const res = await rawRequest(k.port, raw, { untilClose: true });
    assert.match(res, /^HTTP\/1\.1 400 /);
    assert.ok(res.endsWith('{"error":"ERR max request size exceeded"}'), res.slice(-200));
    // far over it (3x): still a 4xx, and the server is unaffected
    const far = await post('/set/lim:far', Buffer.alloc(3 * limit, 0x61));
    t.diagnostic(`3 MiB body: ${far.status} ${far.headers['content-type']} ${far.body.slice(0, 200)}`);
    assert.ok(far.status >= 400 && far.status < 500, `status ${far.status}`);
    expectJson(far, 400, { error: 'ERR max request size exceeded' });
    assert.equal(await rc.exists('lim:far'), 0);
    assert.equal((await http('GET', `${k.url}/healthz`)).status, 200);
    expectJson(await cmd(['PING']), 200, { result: 'PONG' });
    assert.ok(k.running);
});

test('a key over kv.max_key_size gets 400 with the Upstash text', async () => {
    const key = 'k'.repeat(1025);
    expectJson(await cmd(['SET', key, 'v']), 400, { error: 'ERR max key size exceeded. Limit: 1024 bytes, Actual: 1025 bytes' });
    expectJson(await cmd(['GET', key]), 400, { error: 'ERR max key size exceeded. Limit: 1024 bytes, Actual: 1025 bytes' });
    expectJson(await cmd(['MSET', 'lim:a', '1', key, '2']), 400,
        { error: 'ERR max key size exceeded. Limit: 1024 bytes, Actual: 1025 bytes' }, 'second key of MSET');
    // commands whose keys are found by reading their arguments (issue 7: the core's key finder)
    const over = { error: 'ERR max key size exceeded. Limit: 1024 bytes, Actual: 1025 bytes' };
    expectJson(await cmd(['EVAL', 'return 1', '1', key]), 400, over, 'EVAL numkeys');
    expectJson(await cmd(['EVAL', 'return ARGV[1]', '0', key]), 200, { result: key }, 'an EVAL argument is not a key');
    expectJson(await cmd(['XREAD', 'COUNT', '1', 'STREAMS', 'lim:s', key, '0', '0']), 400, over, 'XREAD STREAMS');
    expectJson(await cmd(['ZUNIONSTORE', 'lim:z', '2', 'lim:a', key]), 400, over, 'ZUNIONSTORE numkeys');
    expectJson(await cmd(['SORT', 'lim:l', 'STORE', key]), 400, over, 'SORT ... STORE');
    expectJson(await cmd(['SET', 'k'.repeat(1024), 'v']), 200, { result: 'OK' }, 'exactly the limit');
    await rc.del('k'.repeat(1024));
    assert.equal(await rc.exists(key), 0);
});

test('a reply over kv.max_reply_size becomes "ERR max response size exceeded"', async () => {
    await rc.set('lim:bigv', 'v'.repeat(100 * 1024));
    expectJson(await cmd(['GET', 'lim:bigv']), 400, { error: 'ERR max response size exceeded' });
    expectJson(await post('/pipeline', [['GET', 'lim:bigv'], ['STRLEN', 'lim:bigv']]), 200,
        [{ error: 'ERR max response size exceeded' }, { result: 100 * 1024 }]);
    expectJson(await cmd(['GETRANGE', 'lim:bigv', 0, 2]), 200, { result: 'vvv' });
});

test('kv.max_reply_size bounds the whole body: entries that would pass it become the error (pipeline, multi-exec, resp2)', async () => {
    const v = 'm'.repeat(40 * 1024);
    await rc.set('lim:mid', v);
    const commands = [...Array.from({ length: 100 }, () => ['GET', 'lim:mid']), ['STRLEN', 'lim:mid']];
    const tooBig = { error: 'ERR max response size exceeded' };
    const expected = [{ result: v }, ...Array.from({ length: 99 }, () => tooBig), { result: 40 * 1024 }];
    const bound = 64 * 1024 + commands.length * (JSON.stringify(tooBig).length + 1) + 2;
    for (const path of ['/pipeline', '/multi-exec']) {
        const r = await post(path, commands);
        expectJson(r, 200, expected, path);
        assert.ok(r.bodyBuffer.length <= bound, `${path}: ${r.bodyBuffer.length} bytes`);
    }
    const r2 = await post('/pipeline', commands, { headers: { 'upstash-response-format': 'resp2' } });
    assert.equal(r2.status, 200);
    assert.equal(r2.body, `$${v.length}\r\n${v}\r\n${'-ERR max response size exceeded\r\n'.repeat(99)}:${40 * 1024}\r\n`);
    // base64 makes the first value 54 KiB: still within the cap
    const b = json(await post('/pipeline', commands.slice(0, 2), { headers: { 'upstash-encoding': 'base64' } }));
    assert.deepEqual(b, [{ result: b64(v) }, tooBig]);
    expectJson(await cmd(['GET', 'lim:mid']), 200, { result: v }, 'one reply within the cap');
});

// =============================================================================================
// authentication

test('auth: missing or wrong token 401 with the WRONGPASS body, right one 200, "bearer" in any case', async () => {
    expectJson(await cmd(['PING'], { token: null }), 401, WRONGPASS, 'no header');
    expectJson(await cmd(['PING'], { token: 'wrong-token-0123456789abcdef' }), 401, WRONGPASS, 'wrong token');
    expectJson(await cmd(['PING'], { token: `${RW}x` }), 401, WRONGPASS, 'longer');
    expectJson(await cmd(['PING'], { token: RW.slice(0, -1) }), 401, WRONGPASS, 'shorter');
    expectJson(await cmd(['PING'], { token: null, headers: { authorization: RW } }), 401, WRONGPASS, 'no scheme');
    expectJson(await cmd(['PING'], { token: null, headers: { authorization: `Basic ${RW}` } }), 401, WRONGPASS, 'Basic');
    expectJson(await req('GET', '/ping', { token: null }), 401, WRONGPASS, 'path form');
    expectJson(await post('/pipeline', [['PING']], { token: null }), 401, WRONGPASS, 'pipeline');
    expectJson(await cmd(['PING']), 200, { result: 'PONG' });
    expectJson(await cmd(['PING'], { token: null, headers: { authorization: `bearer ${RW}` } }), 200, { result: 'PONG' });
    expectJson(await cmd(['PING'], { token: null, headers: { authorization: `BEARER ${RW}` } }), 200, { result: 'PONG' });
});

test('read-only token: reads, PING, ECHO, EVAL_RO work; SET, DEL, SCAN, EVAL refused with NOPERM', async () => {
    const ro = { token: RO };
    await rc.set('ro:k', 'v');
    expectJson(await cmd(['GET', 'ro:k'], ro), 200, { result: 'v' });
    expectJson(await req('GET', '/get/ro:k', ro), 200, { result: 'v' });
    expectJson(await cmd(['MGET', 'ro:k', 'ro:none'], ro), 200, { result: ['v', null] });
    expectJson(await cmd(['PING'], ro), 200, { result: 'PONG' });
    expectJson(await cmd(['ECHO', 'hi'], ro), 200, { result: 'hi' });
    expectJson(await cmd(['EVAL_RO', "return redis.call('GET', KEYS[1])", 1, 'ro:k'], ro), 200, { result: 'v' });
    for (const [c, name] of [[['SET', 'ro:k', 'w'], 'set'], [['DEL', 'ro:k'], 'del'], [['SCAN', '0'], 'scan'],
        [['EVAL', 'return 1', '0'], 'eval'], [['INCR', 'ro:n'], 'incr'], [['EXPIRE', 'ro:k', '10'], 'expire']]) {
        expectJson(await cmd(c, ro), 400, { error: `NOPERM this user has no permissions to run the '${name}' command` }, c[0]);
    }
    assert.equal(await rc.get('ro:k'), 'v');
    assert.equal(await rc.ttl('ro:k'), -1);
    assert.equal(await rc.exists('ro:n'), 0);
    expectError(await post('/multi-exec', [['GET', 'ro:k'], ['SET', 'ro:k', 'w']], ro), 400, /^NOPERM .*'set'/);
    assert.equal(await rc.get('ro:k'), 'v');
});

test('read-only token: KEYS and FLUSHDB are refused with NOPERM naming the command (checklist #27)', async () => {
    for (const [c, name] of [[['KEYS', '*'], 'keys'], [['FLUSHDB'], 'flushdb']]) {
        expectJson(await cmd(c, { token: RO }), 400, { error: `NOPERM this user has no permissions to run the '${name}' command` }, c[0]);
    }
    assert.ok((await rc.dbsize()) > 0);
});

test('read-only token: a write inside /pipeline is a per-entry NOPERM and is not applied', async () => {
    await rc.del('ro:p');
    await rc.set('ro:k', 'v');
    const r = await post('/pipeline', [['GET', 'ro:k'], ['SET', 'ro:p', '1'], ['DEL', 'ro:k']], { token: RO });
    const b = json(r);
    assert.equal(r.status, 200);
    assert.deepEqual(b, [
        { result: 'v' },
        { error: "NOPERM this user has no permissions to run the 'set' command" },
        { error: "NOPERM this user has no permissions to run the 'del' command" },
    ]);
    assert.equal(await rc.exists('ro:p'), 0, 'the read-only token did not write');
    assert.equal(await rc.get('ro:k'), 'v', 'the read-only token did not delete');
});

test('JWT: `kvedge token` mints working tokens; --read-only ones refuse writes', async () => {
    const minted = await runKvedge(['token', '-c', k.configPath, '--ttl', '1m']);
    assert.equal(minted.code, 0, minted.stderr);
    const jwt = minted.stdout.trim();
    assert.match(jwt, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
    assert.equal(claims.aud, 'kvedge:kv');
    assert.equal(claims.access, 'rw');
    assert.ok(Math.abs(claims.exp - claims.iat - 60) <= 1, JSON.stringify(claims));
    expectJson(await cmd(['SET', 'jwt:k', 'v'], { token: jwt }), 200, { result: 'OK' });
    expectJson(await req('GET', `/get/jwt:k?_token=${jwt}`, { token: null }), 200, { result: 'v' });

    const roMint = await runKvedge(['token', '-c', k.configPath, '--ttl', '1m', '--read-only']);
    assert.equal(roMint.code, 0, roMint.stderr);
    const roJwt = roMint.stdout.trim();
    expectJson(await cmd(['GET', 'jwt:k'], { token: roJwt }), 200, { result: 'v' });
    expectJson(await cmd(['SET', 'jwt:k', 'w'], { token: roJwt }), 400,
        { error: "NOPERM this user has no permissions to run the 'set' command" });
    assert.equal(await rc.get('jwt:k'), 'v');

    // one character of the signature changed (in the middle: the last one may only carry padding bits)
    const [h, p, s] = jwt.split('.');
    const i = 10;
    const tampered = `${h}.${p}.${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
    expectJson(await cmd(['PING'], { token: tampered }), 401, WRONGPASS, 'tampered signature');
    // claims changed (ro -> rw) under the original signature
    const rp = roJwt.split('.');
    const forged = `${rp[0]}.${b64url({ ...JSON.parse(Buffer.from(rp[1], 'base64url')), access: 'rw' })}.${rp[2]}`;
    expectJson(await cmd(['PING'], { token: forged }), 401, WRONGPASS, 'claims changed');
});

test('JWT: self-signed HS256 works; expired, alg none, HS512, wrong key or audience get 401', async () => {
    const now = nowSec();
    const hdr = { alg: 'HS256', typ: 'JWT' };
    const good = { aud: 'kvedge:kv', access: 'rw', exp: now + 60, iat: now };
    expectJson(await cmd(['PING'], { token: makeJwt(hdr, good) }), 200, { result: 'PONG' }, 'own HS256 (sanity)');
    expectJson(await cmd(['PING'], { token: makeJwt(hdr, { ...good, exp: now - 60, iat: now - 120 }) }), 401, WRONGPASS, 'expired');
    expectJson(await cmd(['PING'], { token: makeJwt({ alg: 'none', typ: 'JWT' }, good, { hash: null }) }), 401, WRONGPASS,
        'alg none, empty signature');
    expectJson(await cmd(['PING'], { token: makeJwt({ alg: 'none', typ: 'JWT' }, good) }), 401, WRONGPASS, 'alg none, signed');
    expectJson(await cmd(['PING'], { token: makeJwt({ alg: 'HS512', typ: 'JWT' }, good, { hash: 'sha512' }) }), 401, WRONGPASS,
        'HS512');
    expectJson(await cmd(['PING'], { token: makeJwt(hdr, good, { key: `${JWT_KEY}x` }) }), 401, WRONGPASS, 'other key');
    expectJson(await cmd(['PING'], { token: makeJwt(hdr, { ...good, aud: 'other' }) }), 401, WRONGPASS, 'audience');
    expectJson(await cmd(['PING'], { token: makeJwt(hdr, { ...good, access: 'admin' }) }), 401, WRONGPASS, 'access');
    const { exp, ...noExp } = good;
    expectJson(await cmd(['PING'], { token: makeJwt(hdr, noExp) }), 401, WRONGPASS, 'no exp');
    expectJson(await cmd(['PING'], { token: 'a.b.c' }), 401, WRONGPASS, 'garbage');
    expectJson(await cmd(['PING'], { token: `${makeJwt(hdr, good)}=` }), 401, WRONGPASS, 'junk appended');
});

test('auth: a refused token is logged with the reason and the client address, never the token', async () => {
    const now = nowSec();
    const bad = 'wrong-token-to-log-0123456789';
    const expired = makeJwt({ alg: 'HS256', typ: 'JWT' }, { aud: 'kvedge:kv', access: 'rw', exp: now - 60, iat: now - 120 });
    expectJson(await cmd(['PING'], { token: bad }), 401, WRONGPASS);
    expectJson(await req('GET', `/ping?_token=${expired}`, { token: null }), 401, WRONGPASS, '_token');
    await waitFor(() => /\bkv: 401 for 127\.0\.0\.1: jwt refused: expired$/m.test(k.stderr()), { message: 'the JWT refusal logged' });
    assert.match(k.stderr(), /\bkv: 401 for 127\.0\.0\.1: unknown token$/m);
    for (const secret of [bad, expired, expired.split('.')[2]]) assert.ok(!k.stderr().includes(secret), 'no token in the log');
});

test('a kv.jwt_key shorter than 32 bytes fails `kvedge -t` with a clear message', async () => {
    const file = writeConfig({
        listen: [{ port: await freePort() }],
        redis: redis.url,
        kv: { tokens: [{ token: RW }], jwt_key: 'too-short-key' },
    });
    const r = await runKvedge(['-t', '-c', file]);
    assert.equal(r.code, 1, `exit code; stderr ${r.stderr}`);
    assert.match(r.stderr, /jwt_key must be at least 32 bytes/);
    const minted = await runKvedge(['token', '-c', file]);
    assert.notEqual(minted.code, 0);
    assert.equal(minted.stdout, '');
});

// =============================================================================================
// command policy

test('policy: blocking, stateful and administrative commands are refused promptly; Redis is unaffected', async () => {
    await rc.set('pol:k', 'v');
    const cases = [
        [['BLPOP', 'pol:l', '0'], 'blpop'],
        [['BRPOP', 'pol:l', '0'], 'brpop'],
        [['BLMOVE', 'pol:l', 'pol:m', 'LEFT', 'LEFT', '0'], 'blmove'],
        [['BZPOPMIN', 'pol:z', '0'], 'bzpopmin'],
        [['XREAD', 'BLOCK', '0', 'STREAMS', 'pol:s', '$'], 'xread'],
        [['WATCH', 'pol:k'], 'watch'],
        [['MULTI'], 'multi'],
        [['EXEC'], 'exec'],
        [['SELECT', '1'], 'select'],
        [['AUTH', 'x'], 'auth'],
        [['HELLO', '3'], 'hello'],
        [['CLIENT', 'LIST'], 'client|list'],
        [['CLIENT', 'KILL', 'TYPE', 'normal'], 'client|kill'],
        [['CONFIG', 'GET', 'maxmemory'], 'config|get'],
        [['CONFIG', 'SET', 'maxmemory', '1'], 'config|set'],
        [['DEBUG', 'SLEEP', '5'], 'debug'],
        [['SHUTDOWN'], 'shutdown'],
        [['MONITOR'], 'monitor'],
        [['SUBSCRIBE', 'ch'], 'subscribe'],
        [['PSUBSCRIBE', 'ch*'], 'psubscribe'],
        [['KEYS', '*'], 'keys'],
        [['FLUSHDB'], 'flushdb'],
        [['FLUSHALL'], 'flushall'],
    ];
    for (const [c, name] of cases) {
        const t0 = Date.now();
        const r = await cmd(c);
        const ms = Date.now() - t0;
        expectError(r, 400, new RegExp(`^ERR command '${name.replace('|', '\\|')}' is not allowed over the REST API: .+`), c.join(' '));
        assert.ok(ms < 1000 * SLOW, `${c[0]} answered in ${ms} ms`);
    }
    expectError(await req('GET', '/blpop/pol:l/0'), 400, /^ERR command 'blpop'/, 'path form');
    expectError(await cmd(['bLpOp', 'pol:l', '0']), 400, /^ERR command 'blpop'/, 'any case');
    assert.ok(redis.running, 'Redis still runs');
    assert.equal(await rc.ping(), 'PONG');
    assert.equal(await rc.get('pol:k'), 'v', 'nothing flushed');
    assert.equal(await rc.config('GET', 'maxmemory').then((x) => x[1]), '0');
    expectJson(await cmd(['GET', 'pol:k']), 200, { result: 'v' }, 'the shared connection is still usable');
});

test('policy: XREAD without BLOCK works', async () => {
    await rc.del('pol:s');
    const id = await rc.xadd('pol:s', '*', 'f', 'v');
    expectJson(await cmd(['XREAD', 'COUNT', '10', 'STREAMS', 'pol:s', '0']), 200, { result: [['pol:s', [[id, ['f', 'v']]]]] });
    expectJson(await cmd(['XREAD', 'STREAMS', 'pol:s', id]), 200, { result: null });
});

test('policy: SCAN COUNT above kv.scan_max_count is lowered to it before reaching Redis', async () => {
    const seen = [];
    const mon = await redis.monitor({ onCommand: (c) => seen.push(c.args) });
    try {
        const t0 = Date.now();
        const r = await cmd(['SCAN', '0', 'MATCH', 'pol:*', 'COUNT', '1000000']);
        assert.equal(r.status, 200);
        assert.ok(Date.now() - t0 < 1000 * SLOW);
        await cmd(['HSCAN', 'pol:h', '0', 'COUNT', '5000']);
        await waitFor(() => seen.some((a) => a[0].toUpperCase() === 'HSCAN'), { message: 'HSCAN seen by MONITOR' });
        const scan = seen.find((a) => a[0].toUpperCase() === 'SCAN');
        assert.deepEqual(scan, ['SCAN', '0', 'MATCH', 'pol:*', 'COUNT', '1000']);
        assert.deepEqual(seen.find((a) => a[0].toUpperCase() === 'HSCAN'), ['HSCAN', 'pol:h', '0', 'COUNT', '1000']);
    } finally {
        mon.disconnect();
    }
});

test('policy: a flag before COUNT (WITHTYPE) or a MATCH value "count" cannot hide COUNT from the cap', async () => {
    await rc.hset('pol:h2', 'f', 'v');
    const seen = [];
    const mon = await redis.monitor({ onCommand: (c) => seen.push(c.args) });
    try {
        const w = json(await cmd(['SCAN', '0', 'WITHTYPE', 'COUNT', '1000000', 'MATCH', 'pol:h2']));
        assert.deepEqual(w.result[1], ['pol:h2', 'hash'], 'the WITHTYPE reply');
        expectJson(await cmd(['SCAN', '0', 'MATCH', 'count', 'COUNT', '1000000']), 200, { result: ['0', []] });
        expectJson(await cmd(['HSCAN', 'pol:h2', '0', 'MATCH', 'count', 'COUNT', '5000']), 200, { result: ['0', []] });
        await waitFor(() => seen.some((a) => a[0].toUpperCase() === 'HSCAN'), { message: 'HSCAN seen by MONITOR' });
        const scan = (a) => a[0].toUpperCase() === 'SCAN';
        // the WITHTYPE script calls SCAN from Lua: MONITOR shows the EVAL and the script's own SCAN
        const inner = seen.filter((a) => a[0] === 'SCAN' && a.includes('pol:h2'));
        assert.deepEqual(inner, [['SCAN', '0', 'COUNT', '1000', 'MATCH', 'pol:h2']], 'SCAN inside the WITHTYPE script');
        assert.deepEqual(seen.filter(scan).find((a) => a.includes('count')), ['SCAN', '0', 'MATCH', 'count', 'COUNT', '1000']);
        assert.deepEqual(seen.find((a) => a[0].toUpperCase() === 'HSCAN'), ['HSCAN', 'pol:h2', '0', 'MATCH', 'count', 'COUNT', '1000']);
        assert.ok(!seen.some((a) => a.includes('1000000') || a.includes('5000')), 'no uncapped COUNT reached Redis');
    } finally {
        mon.disconnect();
    }
});

test('policy: SCAN ... WITHTYPE gives [cursor,[key,type,...]]; COPY k k gives 0', async () => {
    await rc.set('wt:str', 'v');
    await rc.rpush('wt:list', 'a');
    await rc.hset('wt:hash', 'f', 'v');
    const b = json(await cmd(['SCAN', '0', 'MATCH', 'wt:*', 'COUNT', '1000', 'WITHTYPE']));
    assert.equal(b.result[0], '0');
    const pairs = {};
    for (let i = 0; i < b.result[1].length; i += 2) pairs[b.result[1][i]] = b.result[1][i + 1];
    assert.deepEqual(pairs, { 'wt:str': 'string', 'wt:list': 'list', 'wt:hash': 'hash' });
    expectJson(await cmd(['COPY', 'wt:str', 'wt:str']), 200, { result: 0 });
    expectJson(await cmd(['COPY', 'wt:str', 'wt:copy']), 200, { result: 1 });
    assert.equal(await rc.get('wt:copy'), 'v');
});

test('policy configuration: allow_keys, allow_flush, deny_commands, allow_commands', async () => {
    const r2 = await startRedis();
    const k2 = await startKvedge({
        threads: 1,
        redis: r2.url,
        kv: { tokens: TOKENS, allow_keys: true, allow_flush: true, deny_commands: ['get', 'hset'], allow_commands: ['config|get'] },
    });
    const base = `${k2.url}/kv`;
    try {
        const c2 = r2.client();
        await c2.set('a', '1');
        expectJson(await cmd(['KEYS', '*'], { base }), 200, { result: ['a'] });
        expectJson(await cmd(['KEYS', '*'], { base, token: RO }), 400,
            { error: "NOPERM this user has no permissions to run the 'keys' command" }, 'read-only KEYS');
        expectJson(await cmd(['GET', 'a'], { base }), 400, { error: "ERR command 'get' is disabled by the server's policy" });
        expectJson(await cmd(['get', 'a'], { base, token: RO }), 400, { error: "ERR command 'get' is disabled by the server's policy" });
        expectJson(await cmd(['HSET', 'h', 'f', 'v'], { base }), 400, { error: "ERR command 'hset' is disabled by the server's policy" });
        expectJson(await cmd(['MGET', 'a'], { base }), 200, { result: ['1'] });
        expectJson(await cmd(['CONFIG', 'GET', 'maxmemory'], { base }), 200, { result: ['maxmemory', '0'] });
        expectError(await cmd(['CONFIG', 'SET', 'maxmemory', '1'], { base }), 400, /^ERR command 'config\|set' is not allowed/);
        expectJson(await cmd(['FLUSHDB'], { base, token: RO }), 400,
            { error: "NOPERM this user has no permissions to run the 'flushdb' command" }, 'read-only FLUSHDB');
        assert.equal(await c2.dbsize(), 1);
        expectJson(await cmd(['FLUSHDB'], { base }), 200, { result: 'OK' });
        assert.equal(await c2.exists('a'), 0);
        expectError(await cmd(['BLPOP', 'l', '0'], { base }), 400, /^ERR command 'blpop' is not allowed/, 'still refused');
    } finally {
        await stopKvedgeThen(k2, r2);
    }
});

test('policy configuration: deny_commands applies inside /pipeline too', async () => {
    const k2 = await startKvedge({ threads: 1, redis: redis.url, kv: { tokens: TOKENS, deny_commands: ['get'] } });
    const base = `${k2.url}/kv`;
    try {
        await rc.set('dp:a', '1');
        expectJson(await post('/pipeline', [['GET', 'dp:a'], ['MGET', 'dp:a']], { base }), 200,
            [{ error: "ERR command 'get' is disabled by the server's policy" }, { result: ['1'] }]);
    } finally {
        assertCleanExit(await k2.stop());
    }
});

// =============================================================================================
// sync tokens

test('upstash-sync-token: on 200 and 400 replies, advances with every write, never goes backwards', async (t) => {
    const agent = new httpMod.Agent({ keepAlive: true, maxSockets: 1 });
    try {
        const sync = (r) => {
            const v = r.headers['upstash-sync-token'];
            assert.match(v ?? '', /^\d+$/, `upstash-sync-token on ${r.status}`);
            return BigInt(v);
        };
        const s1 = sync(await cmd(['SET', 'sy:a', '1'], { agent }));
        const s2 = sync(await cmd(['SET', 'sy:a', '2'], { agent }));
        const s3 = sync(await cmd(['SET', 'sy:a', '3'], { agent }));
        assert.ok(s1 > 0n && s1 < s2 && s2 < s3, `${s1} ${s2} ${s3}`);
        assert.ok(sync(await cmd(['GET', 'sy:a'], { agent })) >= s3, 'a read on the same connection');
        assert.ok(sync(await cmd(['GET', 'sy:a'], { headers: { 'upstash-sync-token': String(s3) } })) >= s3,
            'a read on another connection carrying the token');
        const p = sync(await post('/pipeline', [['SET', 'sy:b', '1'], ['GET', 'sy:b']], { agent }));
        assert.ok(p > s3, 'a pipeline with a write advances');
        const m = sync(await post('/multi-exec', [['INCR', 'sy:c']], { agent }));
        assert.ok(m > p, 'a transaction advances');
        const e = sync(await cmd(['EVAL', "return redis.call('SET', KEYS[1], 'x')", 1, 'sy:e'], { agent }));
        assert.ok(e > m, 'a writing script advances');
        const err = await cmd(['LPUSH', 'sy:a', 'x'], { agent });
        assert.equal(err.status, 400);
        assert.ok(sync(err) >= e, 'a 400 carries it too');
        const bad = await cmd('[', { agent });
        assert.equal(bad.status, 400);
        sync(bad);
        const big = sync(await cmd(['GET', 'sy:a'], { headers: { 'upstash-sync-token': '999999999999' } }));
        assert.ok(big >= 999999999999n, 'a higher token sent by the client comes back');
        sync(await cmd(['GET', 'sy:a'], { headers: { 'upstash-sync-token': 'not-a-number' } }));
        const unauth = await cmd(['PING'], { token: null });
        t.diagnostic(`401 upstash-sync-token: ${JSON.stringify(unauth.headers['upstash-sync-token'])}`);
    } finally {
        agent.destroy();
    }
});

test('upstash-sync-token across two kvedge instances on the same Redis', async () => {
    const k2 = await startKvedge({ threads: 2, redis: redis.url, kv: { tokens: TOKENS } });
    try {
        const r = await cmd(['SET', 'sy:x', '1']);
        const n = BigInt(r.headers['upstash-sync-token']);
        const b = await cmd(['GET', 'sy:x'], { base: `${k2.url}/kv`, headers: { 'upstash-sync-token': String(n) } });
        expectJson(b, 200, { result: '1' });
        assert.ok(BigInt(b.headers['upstash-sync-token']) >= n, `B answered ${b.headers['upstash-sync-token']} < ${n}`);
        // the SDKs send their last token with every request: a write on B then comes after the one on A (with no
        // replica the offset stays 0, so the client's token is what orders the instances)
        const w = await cmd(['SET', 'sy:x', '2'], { base: `${k2.url}/kv`, headers: { 'upstash-sync-token': String(n) } });
        assert.ok(BigInt(w.headers['upstash-sync-token']) > n, 'a write on B is ordered after the write on A');
    } finally {
        assertCleanExit(await k2.stop());
    }
});

// =============================================================================================
// CORS

test('CORS: preflight and response headers for allowed origins only; without cors_origins OPTIONS is 405', async () => {
    const k2 = await startKvedge({ threads: 1, redis: redis.url, kv: { tokens: TOKENS, cors_origins: ['https://app.example'] } });
    const base = `${k2.url}/kv`;
    try {
        const origin = { origin: 'https://app.example' };
        const pre = await http('OPTIONS', `${base}`, {
            headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, upstash-encoding' },
        });
        assert.equal(pre.status, 204);
        assert.equal(pre.body, '');
        assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example');
        assert.match(pre.headers['access-control-allow-methods'], /\bPOST\b/);
        const allowed = pre.headers['access-control-allow-headers'].toLowerCase().split(/\s*,\s*/);
        for (const h of ['authorization', 'content-type', 'upstash-encoding', 'upstash-sync-token']) assert.ok(allowed.includes(h), h);
        const pre2 = await http('OPTIONS', `${base}/pipeline`, { headers: origin });
        assert.equal(pre2.status, 204);

        const r = await cmd(['PING'], { base, headers: origin });
        expectJson(r, 200, { result: 'PONG' });
        assert.equal(r.headers['access-control-allow-origin'], 'https://app.example');
        assert.equal(r.headers['access-control-expose-headers'], 'upstash-sync-token');
        const e = await cmd(['PING'], { base, headers: origin, token: null });
        assert.equal(e.status, 401);
        assert.equal(e.headers['access-control-allow-origin'], 'https://app.example', 'a 401 is readable by the page too');

        const other = await cmd(['PING'], { base, headers: { origin: 'https://evil.example' } });
        expectJson(other, 200, { result: 'PONG' });
        assert.deepEqual(Object.keys(other.headers).filter((h) => h.startsWith('access-control-')), []);
        const otherPre = await http('OPTIONS', `${base}`, { headers: { origin: 'https://evil.example' } });
        assert.equal(otherPre.headers['access-control-allow-origin'], undefined);
        const none = await cmd(['PING'], { base });
        assert.deepEqual(Object.keys(none.headers).filter((h) => h.startsWith('access-control-')), []);
    } finally {
        assertCleanExit(await k2.stop());
    }
    const r = await http('OPTIONS', `${api}`, { headers: { origin: 'https://app.example' } });
    expectJson(r, 405, { error: 'ERR method not allowed' });
});

// =============================================================================================
// server-sent events

test('SSE /subscribe: event stream, subscribe and message lines, multi-line payloads', async () => {
    const s = await openStream(`${api}/subscribe/ch`);
    try {
        assert.equal(s.status, 200);
        assert.equal(s.headers['content-type'], 'text/event-stream');
        await s.waitData('subscribe,ch,1');
        expectJson(await cmd(['PUBLISH', 'ch', 'hello']), 200, { result: 1 });
        await s.waitData('message,ch,hello');
        await rc.publish('ch', 'a,b,c');
        await s.waitData('message,ch,a,b,c');
        await rc.publish('ch', 'line1\nline2');
        await waitFor(() => s.text().includes('data: message,ch,line1\ndata: line2\n\n'), { message: 'multi-line payload' });
        expectJson(await req('GET', '/publish/ch/via%20path'), 200, { result: 1 });
        await s.waitData('message,ch,via path');
        assert.deepEqual(s.dataLines().slice(0, 2), ['subscribe,ch,1', 'message,ch,hello']);
    } finally {
        s.close();
    }
});

test('SSE /subscribe with several channels, and /psubscribe', async () => {
    const s = await openStream(`${api}/subscribe/c1/c2`);
    const p = await openStream(`${api}/psubscribe/news.*`);
    try {
        assert.equal(p.status, 200);
        assert.equal(p.headers['content-type'], 'text/event-stream');
        await s.waitData('subscribe,c2,2');
        await p.waitData('psubscribe,news.*,1');
        await rc.publish('c2', 'two');
        await s.waitData('message,c2,two');
        await rc.publish('news.x', 'hello');
        await p.waitData('pmessage,news.*,news.x,hello');
    } finally {
        s.close();
        p.close();
    }
});

test('SSE /monitor: first event "OK", then a line per command', async () => {
    const m = await openStream(`${api}/monitor`, { body: undefined });
    try {
        assert.equal(m.status, 200);
        assert.equal(m.headers['content-type'], 'text/event-stream');
        await m.waitData((l) => l.length >= 1);
        assert.equal(m.dataLines()[0], '"OK"');
        await cmd(['SET', 'mon:k', 'v']);
        await m.waitData((l) => l.some((x) => /^\d+\.\d+ \[\d+ [^\]]+\] "SET" "mon:k" "v"$/.test(x)));
        await rc.get('mon:other');
        await m.waitData((l) => l.some((x) => /"get" "mon:other"$/i.test(x)));
    } finally {
        m.close();
    }
});

test('SSE: a client that disconnects is unsubscribed within 1 s', async () => {
    const s = await openStream(`${api}/subscribe/gone`);
    await s.waitData('subscribe,gone,1');
    assert.equal(await numsub('gone'), 1);
    const t0 = Date.now();
    s.close();
    await waitFor(async () => (await numsub('gone')) === 0, { timeoutMs: 3000, intervalMs: 10, message: 'NUMSUB gone = 0' });
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `unsubscribed after ${ms} ms`);
    const m = await openStream(`${api}/monitor`, { body: undefined });
    await m.waitData('"OK"');
    const before = Number((await rc.client('LIST')).split('\n').filter((l) => / cmd=monitor /.test(l)).length);
    m.close();
    await waitFor(async () => (await rc.client('LIST')).split('\n').filter((l) => / cmd=monitor /.test(l)).length < before,
        { timeoutMs: 1000, intervalMs: 10, message: 'the MONITOR connection closed' });
});

test('SSE: read-only tokens may subscribe but not monitor; bad channel names and auth are refused', async () => {
    const s = await openStream(`${api}/subscribe/roch`, { token: RO });
    try {
        assert.equal(s.status, 200);
        await s.waitData('subscribe,roch,1');
        await rc.publish('roch', 'x');
        await s.waitData('message,roch,x');
    } finally {
        s.close();
    }
    let r = await post('/monitor', undefined, { token: RO });
    expectError(r, 400, /^NOPERM .*'monitor'/);
    r = await post('/subscribe/a,b', '[]');
    expectError(r, 400, /^ERR channel names/);
    r = await post('/subscribe', '[]');
    expectError(r, 400, /^ERR /);
    r = await post('/subscribe/ch', '[]', { token: null });
    expectJson(r, 401, WRONGPASS);
    r = await post('/subscribe/ch', '[]', { token: 'wrong-token-0123456789' });
    expectJson(r, 401, WRONGPASS);
    assert.equal(await numsub('a,b'), 0);
});

test('SSE: kv.deny_commands applies to /subscribe, /psubscribe and /monitor (the policy\'s JSON error)', async () => {
    const k2 = await startKvedge({ threads: 1, redis: redis.url, kv: { tokens: TOKENS, deny_commands: ['subscribe', 'monitor'] } });
    const base = `${k2.url}/kv`;
    try {
        const before = await numsub('denied');
        expectJson(await post('/subscribe/denied', '[]', { base }), 400, { error: "ERR command 'subscribe' is disabled by the server's policy" });
        expectJson(await post('/subscribe/denied', '[]', { base, token: RO }), 400,
            { error: "ERR command 'subscribe' is disabled by the server's policy" }, 'read-only token');
        expectJson(await req('GET', '/monitor', { base }), 400, { error: "ERR command 'monitor' is disabled by the server's policy" });
        assert.equal(await numsub('denied'), before, 'no subscription reached Redis');
        // what is not denied still streams, and the commands stay refused as commands
        const p = await openStream(`${base}/psubscribe/allowed.*`);
        try {
            assert.equal(p.status, 200);
            await p.waitData('psubscribe,allowed.*,1');
        } finally {
            p.close();
        }
        expectError(await cmd(['PSUBSCRIBE', 'x'], { base }), 400, /^ERR command 'psubscribe' is not allowed over the REST API: use the/);
        expectJson(await cmd(['SUBSCRIBE', 'x'], { base }), 400, { error: "ERR command 'subscribe' is disabled by the server's policy" });
    } finally {
        assertCleanExit(await k2.stop());
    }
});

test('SSE: 20 subscribers at once all get the message', async () => {
    const subs = await Promise.all(Array.from({ length: 20 }, () => openStream(`${api}/subscribe/many`)));
    try {
        for (const s of subs) assert.equal(s.status, 200);
        await waitFor(async () => (await numsub('many')) === 20, { message: '20 subscribers' });
        await Promise.all(subs.map((s) => s.waitData((l) => l.some((x) => x.startsWith('subscribe,many,')))));
        expectJson(await cmd(['PUBLISH', 'many', 'to all']), 200, { result: 20 });
        await Promise.all(subs.map((s) => s.waitData('message,many,to all')));
    } finally {
        for (const s of subs) s.close();
    }
    await waitFor(async () => (await numsub('many')) === 0, { message: 'all unsubscribed' });
});

test('SSE: stopping kvedge with subscribers connected ends the streams and exits cleanly and quickly', async () => {
    const k2 = await startKvedge({ threads: 2, redis: redis.url, kv: { tokens: TOKENS } });
    let result;
    const subs = [];
    try {
        for (let i = 0; i < 4; i++) subs.push(await openStream(`${k2.url}/kv/subscribe/stopch`));
        subs.push(await openStream(`${k2.url}/kv/monitor`, { body: undefined }));
        await waitFor(async () => (await numsub('stopch')) === 4, { message: '4 subscribers' });
        const t0 = Date.now();
        result = await k2.stop();
        const ms = Date.now() - t0;
        assert.ok(ms < 3000 * SLOW, `stop took ${ms} ms`);
        await Promise.all(subs.map((s) => s.ended));
        await waitFor(async () => (await numsub('stopch')) === 0, { message: 'subscriptions gone' });
    } finally {
        for (const s of subs) s.close();
        assertCleanExit(result ?? (await k2.stop()));
    }
});

// =============================================================================================
// Redis outages

test('Redis down: 503 JSON promptly; back to 200 within 2 s of the restart', async (t) => {
    const r2 = await startRedis();
    const k2 = await startKvedge({ threads: 2, redis: { url: r2.url, command_timeout: '500ms' }, kv: { tokens: TOKENS } });
    const base = `${k2.url}/kv`;
    try {
        expectJson(await cmd(['SET', 'rd:k', 'v'], { base }), 200, { result: 'OK' });
        await r2.stop();
        await sleep(200);
        for (let i = 0; i < 4; i++) {
            const t0 = Date.now();
            const r = await cmd(['GET', 'rd:k'], { base });
            const ms = Date.now() - t0;
            expectError(r, 503, /^ERR /, 'Redis down');
            assert.ok(ms < 500 * SLOW, `answered in ${ms} ms (command timeout 500 ms)`);
        }
        const p = await post('/pipeline', [['PING']], { base });
        expectError(p, 503, /^ERR /, 'pipeline while down');
        // a subscription while Redis is down: a 503, or (headers already sent) a stream that ends at once
        const t1 = Date.now();
        const s = await post('/subscribe/ch', '[]', { base });
        t.diagnostic(`subscribe while Redis is down: ${s.status} ${s.headers['content-type']} ${JSON.stringify(s.body)} after ${Date.now() - t1} ms`);
        if (s.status === 200) assert.ok(!s.body.includes('data: '), 'no events');
        else expectError(s, 503, /^ERR /);
        assert.ok(Date.now() - t1 < 1000 * SLOW);
        await r2.restart();
        const up = Date.now();
        await waitFor(async () => (await cmd(['PING'], { base })).status === 200, { timeoutMs: 2000, intervalMs: 20, message: '200 after restart' });
        const ms = Date.now() - up;
        assert.ok(ms < 2000, `back after ${ms} ms`);
        // both threads are back
        await waitFor(async () => {
            const rs = await Promise.all(Array.from({ length: 8 }, () => cmd(['PING'], { base })));
            return rs.every((x) => x.status === 200);
        }, { timeoutMs: 2000, message: 'all threads back' });
    } finally {
        await stopKvedgeThen(k2, r2);
    }
});

test('Redis SIGSTOPped: 504 JSON within about the command timeout; 200 again after SIGCONT', async () => {
    const r2 = await startRedis();
    const k2 = await startKvedge({ threads: 1, redis: { url: r2.url, command_timeout: '500ms' }, kv: { tokens: TOKENS } });
    const base = `${k2.url}/kv`;
    try {
        expectJson(await cmd(['SET', 'rs:k', 'v'], { base }), 200, { result: 'OK' });
        await r2.kill('SIGSTOP');
        const t0 = Date.now();
        const r = await cmd(['GET', 'rs:k'], { base });
        const ms = Date.now() - t0;
        expectError(r, 504, /^ERR /);
        assert.ok(ms >= 400 && ms < 1500 * SLOW, `timed out after ${ms} ms`);
        const p = await post('/multi-exec', [['INCR', 'rs:n']], { base });
        assert.ok(p.status === 504 || p.status === 503, `transaction: ${p.status}`);
        json(p);
        await r2.kill('SIGCONT');
        await waitFor(async () => (await cmd(['GET', 'rs:k'], { base })).status === 200, { timeoutMs: 5000, message: '200 after SIGCONT' });
        expectJson(await cmd(['GET', 'rs:k'], { base }), 200, { result: 'v' });
    } finally {
        await stopKvedgeThen(k2, r2);
    }
});

// =============================================================================================
// a listener of its own

test('kv.listen: the API answers on its own port at path "/", not on the main listener', async () => {
    const kvPort = await freePort();
    const k2 = await startKvedge({ threads: 1, redis: redis.url, kv: { listen: [{ port: kvPort }], path: '/', tokens: TOKENS } });
    const own = `http://127.0.0.1:${kvPort}`;
    try {
        expectJson(await req('GET', '/set/ol:k/v', { base: own }), 200, { result: 'OK' });
        expectJson(await req('GET', '/get/ol:k', { base: own }), 200, { result: 'v' });
        expectJson(await cmd(['GET', 'ol:k'], { base: own }), 200, { result: 'v' }, 'POST / on its own port');
        expectJson(await post('/pipeline', [['GET', 'ol:k']], { base: own }), 200, [{ result: 'v' }]);
        expectJson(await req('GET', '/get/ol:k', { base: own, token: null }), 401, WRONGPASS);
        for (const p of ['/get/ol:k', '/kv/get/ol:k', '/kv', '/']) {
            const r = await req('GET', p, { base: k2.url });
            assert.equal(r.status, 404, `main listener ${p}: ${r.status} ${r.body}`);
        }
        assert.equal((await http('GET', `${k2.url}/healthz`)).status, 200);
        const h = await http('GET', `${own}/healthz`);
        assert.notEqual(h.body, 'ok\n', 'healthz is not served on the KV listener');
        assert.notEqual(h.status, 200);
    } finally {
        assertCleanExit(await k2.stop());
    }
});

test('the shared instance is still healthy after everything', async () => {
    assert.ok(k.running);
    assert.equal((await http('GET', `${k.url}/healthz`)).status, 200);
    expectJson(await cmd(['PING']), 200, { result: 'PONG' });
    expectJson(await post('/pipeline', [['PING'], ['ECHO', 'x']]), 200, [{ result: 'PONG' }, { result: 'x' }]);
});
