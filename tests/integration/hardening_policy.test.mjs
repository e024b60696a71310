// Hardening of the KV REST command policy and of the KV handler's routing (security review), each against a
// real redis-server: SCAN-family commands without their arguments (issue 1), command and subcommand names
// Redis would read differently from the policy — a NUL byte, other control or non-ASCII bytes — and unknown
// subcommands of container commands (issue 2), SCRIPT DEBUG (issue 3), raw paths that h2o routes by their
// normalised form (issue 14), and the commands that only kv.allow_commands enables (issue 15).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import httpMod from 'node:http';
import { assertCleanExit, freePort, http, rawRequest, SANITIZE, startKvedge, startRedis, stopKvedgeThen } from './harness.mjs';
import { kvConfig, openStream, RO_TOKEN, RW_TOKEN, startKvStack } from './kv_helpers.mjs';

const SLOW = SANITIZE ? 3 : 1;
const INVALID_NAME = "ERR invalid command name: command names are letters, digits, '_', '-' and '.'";
const NUL = '\u0000';

const agent = new httpMod.Agent({ keepAlive: true, maxSockets: 4 });
after(() => agent.destroy());

/** POST `body` (a JS value, sent as JSON) to `base + path`. */
function post(base, path, body, { token = RW_TOKEN } = {}) {
    return http('POST', `${base}${path}`, { headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body), agent });
}

/** GET `base + path` with the path sent as is. */
function get(base, path, { token = RW_TOKEN } = {}) {
    return http('GET', `${base}${path}`, { headers: { authorization: `Bearer ${token}` }, agent });
}

function json(r) {
    assert.equal(r.headers['content-type'], 'application/json', `content type of ${r.status} ${r.body.slice(0, 200)}`);
    return JSON.parse(r.body);
}

function expectError(r, status, expected, what = '') {
    assert.equal(r.status, status, `${what}: status (body ${r.body.slice(0, 300)})`);
    const b = json(r);
    assert.deepEqual(Object.keys(b), ['error'], `${what}: only an error key in ${r.body.slice(0, 300)}`);
    if (expected instanceof RegExp) assert.match(b.error, expected, what);
    else assert.equal(b.error, expected, what);
    return b.error;
}

/** A /pipeline of `cmds`: asserts 200 and returns the entries. */
async function pipeline(base, cmds, opts) {
    const r = await post(base, '/pipeline', cmds, opts);
    assert.equal(r.status, 200, `pipeline status (body ${r.body.slice(0, 300)})`);
    const entries = json(r);
    assert.equal(entries.length, cmds.length);
    return entries;
}

/** Every entry is exactly {error: expected}; reports the first one that is not. */
function allErrors(entries, expected, what) {
    const bad = entries.findIndex((e) => e.error !== expected);
    assert.equal(bad, -1, `${what}: entry ${bad} is ${JSON.stringify(entries[bad])}`);
}

/** One raw HTTP/1.1 request (the path is sent byte for byte); resolves {status, headers, body}. */
async function raw(port, path, { token = RW_TOKEN, method = 'GET' } = {}) {
    const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
    const text = await rawRequest(port, `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Connection: close\r\n\r\n`);
    const end = text.indexOf('\r\n\r\n');
    assert.ok(end > 0, `a response to ${path}: ${JSON.stringify(text.slice(0, 200))}`);
    const lines = text.slice(0, end).split('\r\n');
    const headers = {};
    for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    return { status: Number(lines[0].split(' ')[1]), headers, body: Buffer.from(text.slice(end + 4), 'latin1').toString('utf8') };
}

// =============================================================================================
// issue 1

test('issue 1: SCAN, HSCAN, SSCAN, ZSCAN without their arguments get Redis\' arity error and kvedge keeps running', async () => {
    const s = await startKvStack();
    try {
        // read-only tokens may not SCAN at all (NOPERM); everything else reaches Redis as it came
        const expected = (name, token) => (name === 'scan' && token === RO_TOKEN
            ? "NOPERM this user has no permissions to run the 'scan' command"
            : `ERR wrong number of arguments for '${name}' command`);
        for (const token of [RO_TOKEN, RW_TOKEN]) {
            for (const [path, name] of [['/hscan/h', 'hscan'], ['/scan', 'scan'], ['/sscan/s', 'sscan'], ['/zscan/k', 'zscan']]) {
                expectError(await get(s.url, path, { token }), 400, expected(name, token), `GET ${path}`);
            }
            for (const c of [['SCAN'], ['SSCAN'], ['ZSCAN', 'k'], ['HSCAN', 'h'], ['sscan', 's']]) {
                expectError(await post(s.url, '', c, { token }), 400, expected(c[0].toLowerCase(), token), JSON.stringify(c));
            }
            const entries = await pipeline(s.url, [['HSCAN', 'h'], ['ZSCAN', 'z'], ['SCAN'], ['GET', 'k']], { token });
            assert.deepEqual(entries, [{ error: expected('hscan', token) }, { error: expected('zscan', token) },
                { error: expected('scan', token) }, { result: null }]);
        }
        assert.ok(s.k.running, 'kvedge still runs');
        assert.deepEqual(json(await post(s.url, '', ['SCAN', '0', 'COUNT', '10'])), { result: ['0', []] });
    } finally {
        assertCleanExit(await s.stop());
    }
});

// =============================================================================================
// issue 2

test('issue 2: a NUL in a command name (JSON \\u0000) never reaches Redis: FLUSHALL, KEYS, SHUTDOWN, deny_commands', async () => {
    const s = await startKvStack({ kv: { deny_commands: ['get', 'dbsize'] } });
    try {
        await s.io.set('nul:keep', 'v');
        const n = 2000; // Redis matches about 1 suffix in 250 to a top-level command
        for (const name of ['FLUSHALL', 'FLUSHDB', 'KEYS', 'GET', 'DBSIZE', 'SHUTDOWN']) {
            const cmds = Array.from({ length: n }, (_, i) => [`${name}${NUL}${i}`, ...(name === 'GET' || name === 'KEYS' ? ['*'] : [])]);
            allErrors(await pipeline(s.url, cmds), INVALID_NAME, name);
        }
        assert.equal(await s.io.get('nul:keep'), 'v', 'nothing was flushed');
        assert.ok(s.redis.running, 'Redis was not shut down');
        // the single-command form
        expectError(await post(s.url, '', [`FLUSHALL${NUL}`]), 400, INVALID_NAME);
        expectError(await post(s.url, '', [`GET${NUL}x`, 'nul:keep']), 400, INVALID_NAME);
    } finally {
        assertCleanExit(await s.stop());
    }
});

test('issue 2: CONFIG GET\\u0000<n> requirepass never returns the Redis password; CONFIG SET, ACL GETUSER, SCRIPT DEBUG with a NUL neither', async () => {
    const password = 'hardening-secret-4711';
    const redis = await startRedis();
    const setup = redis.client();
    await setup.config('SET', 'requirepass', password);
    setup.disconnect();
    const admin = redis.client({ password });
    const k = await startKvedge(kvConfig({ url: redis.url, password }, { allow_commands: ['config|get'] }, { threads: 1 }));
    const base = `${k.url}/kv`;
    try {
        const n = 300; // about 1 suffix in 9 matched CONFIG GET
        const sub = (container, name, args) => Array.from({ length: n }, (_, i) => [container, `${name}${NUL}${i}`, ...args]);
        const unknownSub = (c) => `ERR unknown subcommand (subcommand names are letters and '-'). Try ${c} HELP.`;
        const r = await post(base, '/pipeline', sub('CONFIG', 'GET', ['requirepass']));
        assert.ok(!r.body.includes(password), 'the password is not in the response');
        allErrors(json(r), unknownSub('CONFIG'), 'CONFIG GET\\0');
        allErrors(await pipeline(base, sub('CONFIG', 'SET', ['maxmemory', '12345678'])), unknownSub('CONFIG'), 'CONFIG SET\\0');
        assert.deepEqual(await admin.config('GET', 'maxmemory'), ['maxmemory', '0']);
        allErrors(await pipeline(base, sub('ACL', 'GETUSER', ['default'])), unknownSub('ACL'), 'ACL GETUSER\\0');
        allErrors(await pipeline(base, sub('SCRIPT', 'DEBUG', ['YES'])), unknownSub('SCRIPT'), 'SCRIPT DEBUG\\0');
        // what the configuration allows still works
        assert.deepEqual(json(await post(base, '', ['CONFIG', 'GET', 'maxmemory'])), { result: ['maxmemory', '0'] });
    } finally {
        admin.disconnect();
        await stopKvedgeThen(k, redis);
    }
});

test('issue 2: a NUL in the path form (%00) is refused too: commands and subcommands, many suffixes', async () => {
    const s = await startKvStack({ kv: { allow_commands: ['config|get'] } });
    try {
        await s.io.set('pnul:keep', 'v');
        for (let i = 0; i < 400; i++) {
            expectError(await get(s.url, `/flushall%00${i}`), 400, INVALID_NAME, `flushall%00${i}`);
            if (i < 150) {
                expectError(await get(s.url, `/config/set%00${i}/maxmemory/12345678`), 400,
                    "ERR unknown subcommand (subcommand names are letters and '-'). Try CONFIG HELP.", `config/set%00${i}`);
            }
        }
        assert.equal(await s.io.get('pnul:keep'), 'v');
        assert.deepEqual(await s.io.config('GET', 'maxmemory'), ['maxmemory', '0']);
    } finally {
        assertCleanExit(await s.stop());
    }
});

test('issue 2: other control and non-ASCII bytes, spaces and "|" in a command name are refused with a clear error', async () => {
    const s = await startKvStack();
    try {
        const bytes = [...Array.from({ length: 31 }, (_, i) => i + 1), 0x20, 0x7c, 0x7f];
        const names = [...bytes.map((b) => `GE${String.fromCharCode(b)}T`), 'GET\u00e9', '\u00c9CHO', 'PING\u2028', 'config|get', 'GET '];
        allErrors(await pipeline(s.url, names.map((n) => [n, 'x'])), INVALID_NAME, 'JSON');
        for (const p of ['/ge%01t/x', '/get%7f/x', '/get%ff/x', '/g%C3%A9t/x', '/get%20/x', '/ping%0a', '/ping%0d%0a']) {
            expectError(await get(s.url, p), 400, INVALID_NAME, p);
        }
        // valid names outside the table still go to Redis, which answers for itself
        expectError(await post(s.url, '', ['json.get', 'k']), 400, /^ERR unknown command 'json\.get'/);
        assert.deepEqual(json(await post(s.url, '', ['PiNg'])), { result: 'PONG' });
    } finally {
        assertCleanExit(await s.stop());
    }
});

test('issue 2: an unknown subcommand of every container command gets Redis\' own error text', async () => {
    const s = await startKvStack({ kv: { allow_commands: ['config', 'acl', 'client', 'module', 'cluster'] } });
    try {
        const containers = ['ACL', 'CLIENT', 'CLUSTER', 'COMMAND', 'CONFIG', 'FUNCTION', 'LATENCY', 'MEMORY', 'MODULE', 'OBJECT',
            'PUBSUB', 'SCRIPT', 'SLOWLOG', 'XGROUP', 'XINFO'];
        for (const c of containers) {
            for (const subName of ['nosuch', 'GetX', 'help-me']) {
                const own = await s.io.call(c, subName, 'x').then((v) => assert.fail(`${c} ${subName} answered ${v}`), (e) => e.message);
                expectError(await post(s.url, '', [c, subName, 'x']), 400, own, `${c} ${subName}`);
                expectError(await post(s.url, '', [c, subName], { token: RO_TOKEN }), 400, own, `read-only ${c} ${subName}`);
            }
        }
        assert.deepEqual(json(await post(s.url, '', ['config', 'GET', 'maxmemory'])), { result: ['maxmemory', '0'] });
    } finally {
        assertCleanExit(await s.stop());
    }
});

// =============================================================================================
// issue 3

test('issue 3: SCRIPT DEBUG is refused whatever kv.allow_commands says; Redis stays responsive', async () => {
    const expected = "ERR command 'script|debug' is not allowed over the REST API: the Lua debugger takes over the connection " +
        '(SYNC blocks the whole server)';
    for (const allow of [[], ['script'], ['script|debug']]) {
        const s = await startKvStack({ kv: { allow_commands: allow } });
        try {
            const entries = await pipeline(s.url, [['SCRIPT', 'DEBUG', 'SYNC'], ['EVAL', 'return 1', '0']]);
            assert.deepEqual(entries, [{ error: expected }, { result: 1 }], `allow_commands ${allow}`);
            expectError(await post(s.url, '', ['script', 'debug', 'yes']), 400, expected);
            expectError(await get(s.url, '/script/debug/sync'), 400, expected);
            expectError(await post(s.url, '/multi-exec', [['SCRIPT', 'DEBUG', 'YES'], ['SET', 'sd', '1']]), 400, expected);
            const t0 = Date.now();
            assert.equal(await s.io.ping(), 'PONG');
            assert.ok(Date.now() - t0 < 1000 * SLOW, 'Redis answers at once');
            assert.deepEqual(json(await post(s.url, '', ['EVAL', 'return 2', '0'])), { result: 2 }, 'the shared link works');
            assert.equal(await s.io.exists('sd'), 0);
        } finally {
            assertCleanExit(await s.stop());
        }
    }
});

// =============================================================================================
// issue 14

const PATH_PREFIX_ERROR = /^ERR the request path must start with \/kv\b/;
const DOT_SEGMENT_ERROR = /^ERR the request path has a '\.' or '\.\.' segment/;

test('issue 14: the KV handler serves only raw paths that start with its prefix and have no dot segments', async () => {
    const s = await startKvStack();
    const port = s.k.port;
    try {
        await s.io.set('x', 'kv-x');
        const refused = [
            ['/api/../kv/get/x', PATH_PREFIX_ERROR],
            ['/%6bv/get/x', PATH_PREFIX_ERROR],
            ['/%6Bv/set/x/1', PATH_PREFIX_ERROR],
            ['/k%76/get/x', PATH_PREFIX_ERROR],
            ['/kv%2Fget/x', PATH_PREFIX_ERROR],
            ['/./kv/get/x', PATH_PREFIX_ERROR],
            ['/kv/./get/x', DOT_SEGMENT_ERROR],
            ['/kv/get/../set/x/1', DOT_SEGMENT_ERROR],
            ['/kv/set/x/1/..', DOT_SEGMENT_ERROR],
            ['/kv/%2e%2e/kv/get/x', DOT_SEGMENT_ERROR],
            ['/kv/%2E/get/x', DOT_SEGMENT_ERROR],
            ['/kv/.%2e/kv/get/x', DOT_SEGMENT_ERROR],
            ['/kv/get/x/.', DOT_SEGMENT_ERROR],
            ['/kv/get/x%2F..%2Fy', DOT_SEGMENT_ERROR],
            ['/kv/subscribe/../get/x', DOT_SEGMENT_ERROR],
            ['/kv/pipeline/..', DOT_SEGMENT_ERROR],
        ];
        for (const [p, re] of refused) {
            for (const token of [RW_TOKEN, null]) {
                const r = await raw(port, p, { token });
                expectError(r, 400, re, `${p} (${token ? 'token' : 'no token'})`);
            }
        }
        assert.equal(await s.io.get('x'), 'kv-x', 'nothing was written');
        // percent-decoding of arguments stays; dots inside names are fine
        let r = await raw(port, '/kv/set/a%2Fb/v%2e1');
        assert.equal(r.status, 200, r.body);
        assert.deepEqual(JSON.parse(r.body), { result: 'OK' });
        assert.equal(await s.io.get('a/b'), 'v.1');
        for (const key of ['...', '.x', 'x.', 'a..b']) {
            await s.io.set(key, `v${key}`);
            r = await raw(port, `/kv/get/${key}`);
            assert.deepEqual(JSON.parse(r.body), { result: `v${key}` }, key);
        }
        r = await raw(port, '/kv/get/x?_token=' + RW_TOKEN, { token: null });
        assert.deepEqual(JSON.parse(r.body), { result: 'kv-x' });
        // paths h2o does not route to the KV API are not its business
        assert.equal((await raw(port, '/kvx/get/x')).status, 404);
        assert.equal((await raw(port, '/kv/../get/x')).status, 404);
    } finally {
        assertCleanExit(await s.stop());
    }
});

test('issue 14: with kv.listen and path "/", dot segments and percent-encoded slashes before the command are refused too', async () => {
    const redis = await startRedis();
    const kvPort = await freePort();
    const k = await startKvedge(kvConfig(redis.url, { listen: [{ host: '127.0.0.1', port: kvPort }], path: '/' }, { threads: 1 }));
    try {
        const io = redis.client();
        await io.set('x', 'root-x');
        for (const p of ['/./get/x', '/get/./x', '/get/%2e%2E/set/x/1', '/set/x/1/..']) {
            expectError(await raw(kvPort, p), 400, DOT_SEGMENT_ERROR, p);
        }
        const r = await raw(kvPort, '/get/x');
        assert.equal(r.status, 200);
        assert.deepEqual(JSON.parse(r.body), { result: 'root-x' });
        assert.equal(await io.get('x'), 'root-x');
    } finally {
        await stopKvedgeThen(k, redis);
    }
});

// =============================================================================================
// issue 15

const configure = (name, what = 'to allow it') => new RegExp(`\\(list ${name.replace('|', '\\|')} in kv\\.allow_commands ${what}\\)$`);

test('issue 15: MIGRATE, MOVE, COPY ... DB, SCRIPT FLUSH, FUNCTION FLUSH and /monitor are refused by default, naming what to configure', async () => {
    const s = await startKvStack();
    const other = await startRedis();
    const lib = "#!lua name=hardlib\nredis.register_function('hf', function() return 1 end)";
    try {
        await s.io.set('m:k', 'v');
        const sha = await s.io.script('LOAD', 'return 7');
        await s.io.call('FUNCTION', 'LOAD', lib);
        const cases = [
            [['MIGRATE', '127.0.0.1', String(other.port), 'm:k', '0', '5000'], 'migrate'],
            [['MIGRATE', '127.0.0.1', String(other.port), '', '0', '5000', 'KEYS', 'm:k'], 'migrate'],
            [['MOVE', 'm:k', '1'], 'move'],
            [['COPY', 'm:k', 'm:k2', 'DB', '1'], 'copy'],
            [['SCRIPT', 'FLUSH'], 'script|flush'],
            [['SCRIPT', 'FLUSH', 'ASYNC'], 'script|flush'],
            [['FUNCTION', 'FLUSH'], 'function|flush'],
        ];
        for (const [c, name] of cases) {
            expectError(await post(s.url, '', c), 400, configure(name), c.join(' '));
            expectError(await post(s.url, '', c, { token: RO_TOKEN }), 400, /^NOPERM /, `read-only ${c.join(' ')}`);
        }
        expectError(await post(s.url, '', ['FUNCTION', 'RESTORE', 'payload', 'FLUSH']), 400, configure('function|flush'));
        const m = await http('GET', `${s.url}/monitor`, { headers: { authorization: `Bearer ${RW_TOKEN}` } });
        expectError(m, 400, configure('monitor', 'to allow /monitor'), '/monitor');
        expectError(await http('GET', `${s.url}/monitor`, { headers: { authorization: `Bearer ${RO_TOKEN}` } }), 400,
            /^NOPERM .*'monitor'/, 'read-only /monitor');
        // nothing happened
        assert.equal(await s.io.get('m:k'), 'v');
        assert.equal(await other.client().exists('m:k'), 0, 'nothing migrated');
        assert.deepEqual(await s.io.script('EXISTS', sha), [1], 'the script cache is intact');
        assert.equal((await s.io.call('FUNCTION', 'LIST')).length, 1, 'the function library is intact');
        await s.io.select(1);
        assert.equal(await s.io.dbsize(), 0, 'nothing in database 1');
        await s.io.select(0);
        // COPY within the database and the other SCRIPT/FUNCTION subcommands are unaffected
        assert.deepEqual(json(await post(s.url, '', ['COPY', 'm:k', 'm:k3'])), { result: 1 });
        assert.deepEqual(json(await post(s.url, '', ['SCRIPT', 'EXISTS', sha])), { result: [1] });
    } finally {
        await other.stop();
        assertCleanExit(await s.stop());
    }
});

test('issue 15: listed in kv.allow_commands they work for read-write tokens, never for read-only ones', async () => {
    const s = await startKvStack({ kv: { allow_commands: ['migrate', 'move', 'copy', 'script|flush', 'function|flush', 'monitor'] } });
    const other = await startRedis();
    try {
        const otherIo = other.client();
        const lib = "#!lua name=hardlib2\nredis.register_function('hf2', function() return 1 end)";
        await s.io.mset('a:mig', '1', 'a:move', '2', 'a:copy', '3');
        const sha = await s.io.script('LOAD', 'return 8');
        await s.io.call('FUNCTION', 'LOAD', lib);
        const ro = [
            ['MIGRATE', '127.0.0.1', String(other.port), 'a:mig', '0', '5000'],
            ['MOVE', 'a:move', '1'],
            ['COPY', 'a:copy', 'a:copy', 'DB', '1'],
            ['SCRIPT', 'FLUSH'],
            ['FUNCTION', 'FLUSH'],
        ];
        for (const c of ro) {
            expectError(await post(s.url, '', c, { token: RO_TOKEN }), 400, /^NOPERM this user has no permissions/, c.join(' '));
        }
        expectError(await http('GET', `${s.url}/monitor`, { headers: { authorization: `Bearer ${RO_TOKEN}` } }), 400,
            "NOPERM this user has no permissions to run the 'monitor' command");
        assert.equal(await s.io.exists('a:mig', 'a:move', 'a:copy'), 3, 'read-only tokens changed nothing');

        assert.deepEqual(json(await post(s.url, '', ro[0])), { result: 'OK' });
        assert.equal(await otherIo.get('a:mig'), '1', 'migrated');
        assert.deepEqual(json(await post(s.url, '', ro[1])), { result: 1 });
        assert.deepEqual(json(await post(s.url, '', ro[2])), { result: 1 });
        await s.io.select(1);
        assert.deepEqual(await s.io.mget('a:move', 'a:copy'), ['2', '3']);
        await s.io.select(0);
        assert.deepEqual(json(await post(s.url, '', ro[3])), { result: 'OK' });
        assert.deepEqual(await s.io.script('EXISTS', sha), [0]);
        assert.deepEqual(json(await post(s.url, '', ro[4])), { result: 'OK' });
        assert.deepEqual(await s.io.call('FUNCTION', 'LIST'), []);
        const m = await openStream(`${s.url}/monitor`);
        try {
            assert.equal(m.status, 200);
            await m.waitData('"OK"');
        } finally {
            m.close();
        }
        // the monitor switch does not allow MONITOR as a command on the shared connection
        expectError(await post(s.url, '', ['MONITOR']), 400, /^ERR command 'monitor' is not allowed over the REST API: use the \/monitor endpoint/);
        otherIo.disconnect();
    } finally {
        await other.stop();
        assertCleanExit(await s.stop());
    }
});
