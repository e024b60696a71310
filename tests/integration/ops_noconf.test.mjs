// Issue 11, starting without a config file: `kvedge` with KV_REST_API_TOKEN (and optionally a Redis URL, a port, a
// read-only token) in the environment and no -c serves the KV API, printing the KV_REST_API_* lines; hostile values
// are refused by the name of their variable; `--print-config` shows the YAML, which passes `-t`; the quickstart's
// kv.jwt_key lets `kvedge token` mint a token the KV API accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from '@upstash/redis';
import { SOURCE_DIR, assertCleanExit, freePort, http, makeTempDir, runKvedge, startKvedge, startRedis } from './harness.mjs';

const TOKEN = 'noconf-rw-0123456789abcdef';
const RO_TOKEN = 'noconf-ro-0123456789abcdef';
// Variables that would change what kvedge builds: cleared (undefined is left out of a child's environment) so the
// tests do not depend on the environment they run in.
const CLEAR = {
    KV_REST_API_TOKEN: undefined,
    KV_REST_API_READ_ONLY_TOKEN: undefined,
    REDIS_URL: undefined,
    KVEDGE_REDIS_URL: undefined,
    PORT: undefined,
    KVEDGE_PORT: undefined,
    KVEDGE_HOST: undefined,
    KVEDGE_DATA_DIR: undefined,
    KVEDGE_JWT_KEY: undefined,
};

/** kvedge without -c on a free port, with `env` on top of CLEAR (KVEDGE_PORT set unless env sets a port). */
async function startNoConfig(env, { waitReady = true } = {}) {
    const port = Number(env.KVEDGE_PORT ?? env.PORT ?? (await freePort()));
    const full = { ...CLEAR, KVEDGE_PORT: env.PORT === undefined ? String(port) : undefined, ...env };
    return startKvedge(null, { port, env: full, waitReady });
}

function bearer(token) {
    return { authorization: `Bearer ${token}` };
}

test('issue 11 no-config: KV_REST_API_TOKEN and no -c serve the KV API with the embedded Redis and print the lines to use', async () => {
    const k = await startNoConfig({ KV_REST_API_TOKEN: TOKEN });
    try {
        const url = `http://127.0.0.1:${k.port}/kv`;
        assert.equal(k.stdout(), `KV_REST_API_URL=${url}\nKV_REST_API_TOKEN=${TOKEN}\n`);
        // the printed lines are what a client is given: @upstash/redis's fromEnv() reads them as they are
        const printed = Object.fromEntries(k.stdout().trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
        const saved = { ...process.env };
        let redis;
        try {
            delete process.env.UPSTASH_REDIS_REST_URL;
            delete process.env.UPSTASH_REDIS_REST_TOKEN;
            Object.assign(process.env, printed);
            redis = Redis.fromEnv();
        } finally {
            for (const name of ['KV_REST_API_URL', 'KV_REST_API_TOKEN']) delete process.env[name];
            Object.assign(process.env, saved);
        }
        assert.equal(await redis.set('noconf:a', 'one'), 'OK');
        assert.equal(await redis.get('noconf:a'), 'one');
        assert.equal(await redis.incr('noconf:n'), 1);
        const wrong = await http('GET', `${url}/get/noconf:a`, { headers: bearer('noconf-wrong-0123456789abcdef') });
        assert.equal(wrong.status, 401);
        // the embedded Redis keeps its data in kvedge-data in the directory kvedge was started from
        assert.ok(fs.existsSync(path.join(k.dir, 'kvedge-data', 'redis.sock')), 'data_dir is ./kvedge-data');
        assert.ok(!k.stderr().includes(TOKEN), 'the token is never in the log');
        assert.match(k.stderr(), /started \(config <environment>, 1 store, one of them the embedded redis-server\)/);
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 11 no-config: KVEDGE_REDIS_URL (which wins over REDIS_URL) and KVEDGE_PORT (which wins over PORT), plain fetch', async () => {
    const redis = await startRedis();
    const io = redis.client();
    let k;
    try {
        const port = await freePort();
        k = await startNoConfig({
            KV_REST_API_TOKEN: TOKEN,
            KVEDGE_REDIS_URL: redis.url,
            REDIS_URL: 'redis://127.0.0.1:1/0', // nothing listens there: were it used, the SET below would fail
            KVEDGE_PORT: String(port),
            PORT: String(await freePort()),
        });
        assert.equal(k.port, port);
        assert.equal(k.stdout().split('\n')[0], `KV_REST_API_URL=http://127.0.0.1:${port}/kv`);
        const r = await fetch(`http://127.0.0.1:${port}/kv/set/noconf:ext/hello`, { method: 'POST', headers: bearer(TOKEN) });
        assert.equal(r.status, 200);
        assert.deepEqual(await r.json(), { result: 'OK' });
        assert.equal(await io.get('noconf:ext'), 'hello', 'the value is in the Redis KVEDGE_REDIS_URL names');
        assert.ok(!fs.existsSync(path.join(k.dir, 'kvedge-data', 'redis.sock')), 'no embedded Redis');
    } finally {
        io.disconnect();
        if (k) assertCleanExit(await k.stop());
        await redis.stop();
    }
});

test('issue 11 no-config: REDIS_URL alone and PORT alone are used', async () => {
    const redis = await startRedis();
    const io = redis.client();
    let k;
    try {
        k = await startNoConfig({ KV_REST_API_TOKEN: TOKEN, REDIS_URL: redis.url, PORT: String(await freePort()) });
        const r = await http('POST', `http://127.0.0.1:${k.port}/kv`, { headers: bearer(TOKEN), body: JSON.stringify(['SET', 'noconf:p', 'x']) });
        assert.equal(r.status, 200, r.body);
        assert.equal(await io.get('noconf:p'), 'x');
    } finally {
        io.disconnect();
        if (k) assertCleanExit(await k.stop());
        await redis.stop();
    }
});

test('issue 11 no-config: KV_REST_API_READ_ONLY_TOKEN reads and may not write', async () => {
    const k = await startNoConfig({ KV_REST_API_TOKEN: TOKEN, KV_REST_API_READ_ONLY_TOKEN: RO_TOKEN });
    try {
        const url = `http://127.0.0.1:${k.port}/kv`;
        assert.equal(k.stdout(), `KV_REST_API_URL=${url}\nKV_REST_API_TOKEN=${TOKEN}\nKV_REST_API_READ_ONLY_TOKEN=${RO_TOKEN}\n`);
        const rw = new Redis({ url, token: TOKEN });
        const ro = new Redis({ url, token: RO_TOKEN });
        await rw.set('noconf:ro', 'v');
        assert.equal(await ro.get('noconf:ro'), 'v');
        await assert.rejects(ro.set('noconf:ro', 'w'), /NOPERM/);
        const r = await http('GET', `${url}/set/noconf:ro/w`, { headers: bearer(RO_TOKEN) });
        assert.equal(r.status, 400, r.body); // Upstash answers a refused command with 400
        assert.match(r.body, /NOPERM/);
        assert.equal(await rw.get('noconf:ro'), 'v');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 11 no-config: a hostile or bad value gives a clear error naming its variable, and exit 1', async () => {
    const cases = [
        [{ KV_REST_API_TOKEN: 'abc"defghijklmnopqrs' }, /^kvedge: KV_REST_API_TOKEN: a bearer token holds only letters, digits .*byte 4 is 0x22\n$/],
        [{ KV_REST_API_TOKEN: `${TOKEN}\nlisten: []` }, /^kvedge: KV_REST_API_TOKEN: .*byte 27 is 0x0a\n$/],
        [{ KV_REST_API_TOKEN: 'short' }, /^kvedge: KV_REST_API_TOKEN: a token is 16 to 4096 bytes long/],
        [{ KV_REST_API_TOKEN: TOKEN, KV_REST_API_READ_ONLY_TOKEN: "ro'0123456789abcdef" }, /^kvedge: KV_REST_API_READ_ONLY_TOKEN: .*byte 3 is 0x27/],
        [{ KV_REST_API_TOKEN: TOKEN, PORT: '70000' }, /^kvedge: PORT: expected a port number from 1 to 65535, got "70000"\n$/],
        [{ KV_REST_API_TOKEN: TOKEN, KVEDGE_PORT: '0' }, /^kvedge: KVEDGE_PORT: expected a port number from 1 to 65535, got "0"\n$/],
        [{ KV_REST_API_TOKEN: TOKEN, KVEDGE_PORT: 'http' }, /^kvedge: KVEDGE_PORT: expected a port number from 1 to 65535, got "http"\n$/],
        [{ KV_REST_API_TOKEN: TOKEN, KVEDGE_HOST: '127.0.0.1\nkv: {}' }, /^kvedge: KVEDGE_HOST: expected an IP address or a host name/],
        [{ KV_REST_API_TOKEN: TOKEN, REDIS_URL: 'redis://127.0.0.1:1\n  x: y' }, /^kvedge: REDIS_URL: byte 20 is a control character or a space \(0x0a\)\n$/],
        [{ KV_REST_API_TOKEN: TOKEN, KVEDGE_DATA_DIR: '/tmp/a\nb' }, /^kvedge: KVEDGE_DATA_DIR: byte 7 is a control character \(0x0a\)\n$/],
    ];
    for (const [env, expected] of cases) {
        const r = await runKvedge([], { env: { ...CLEAR, ...env } });
        assert.equal(r.code, 1, `${JSON.stringify(env)}: exit code; stderr: ${r.stderr}`);
        assert.match(r.stderr, expected, JSON.stringify(env));
        assert.equal(r.stdout, '', 'nothing on stdout');
        assert.ok(!r.stderr.includes(TOKEN), 'the token is not echoed');
    }
});

test('issue 11 no-config: a Redis URL the loader refuses is reported at the synthesized line, which is listed', async () => {
    const r = await runKvedge([], { env: { ...CLEAR, KV_REST_API_TOKEN: TOKEN, REDIS_URL: 'mongodb://127.0.0.1:1/' } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^<environment>:9:8: error: redis: url: expected "embedded", a redis:\/\/, rediss:\/\/ or unix:\/\/ URL/);
    assert.match(r.stderr, /kvedge: the errors above are in the configuration built from the environment:\n/);
    assert.match(r.stderr, / {4}9 \| redis: \$\{REDIS_URL\}\n/);
    assert.ok(!r.stderr.includes('mongodb'), 'the URL (which may hold a password) is not shown');
    assert.equal(r.stdout, '');
});

test('issue 11 no-config: no KV_REST_API_TOKEN and no -c is a usage error that names KV_REST_API_TOKEN', async () => {
    for (const args of [[], ['--print-config'], ['-t']]) {
        const r = await runKvedge(args, { env: { ...CLEAR, PORT: '9000' } });
        assert.equal(r.code, 1, args.join(' '));
        assert.match(r.stderr, /^usage: kvedge -c FILE/);
        assert.match(r.stderr, /kvedge: no -c FILE, and KV_REST_API_TOKEN is not set: set KV_REST_API_TOKEN/);
        assert.equal(r.stdout, '');
    }
});

test('issue 11 --print-config: the configuration built from the environment passes -t and runs with -c', async () => {
    const env = { ...CLEAR, KV_REST_API_TOKEN: TOKEN, KV_REST_API_READ_ONLY_TOKEN: RO_TOKEN, PORT: '8099' };
    const printed = await runKvedge(['--print-config'], { env });
    assert.equal(printed.code, 0, printed.stderr);
    assert.ok(!printed.stdout.includes(TOKEN) && !printed.stdout.includes(RO_TOKEN), 'the tokens stay in the environment');
    assert.match(printed.stdout, /\n {4}- token: \$\{KV_REST_API_TOKEN\}\n/);
    assert.match(printed.stdout, /\n {4}port: 8099\n/);
    const dir = makeTempDir('kvedge-noconf-');
    const file = path.join(dir, 'kvedge.yaml');
    fs.writeFileSync(file, printed.stdout);
    const checked = await runKvedge(['-t', '-c', file], { env });
    assert.equal(checked.code, 0, checked.stderr);
    assert.equal(checked.stdout, `kvedge: configuration ${file} is valid\n`);
    // -t without -c checks the same text
    const t = await runKvedge(['-t'], { env });
    assert.equal(t.code, 0, t.stderr);
    assert.equal(t.stdout, 'kvedge: configuration <environment> is valid\n');
    // saved, it runs as a file (on a free port: the saved text names 8099)
    const port = await freePort();
    const k = await startKvedge(printed.stdout.replace('port: 8099', `port: ${port}`), { port, env, waitReady: true });
    try {
        const r = await http('GET', `http://127.0.0.1:${port}/kv/ping`, { headers: bearer(RO_TOKEN) });
        assert.equal(r.body, '{"result":"PONG"}');
        assert.equal(k.stdout(), '', 'with -c nothing is printed on stdout');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 11 --print-config -c FILE: prints the file as it is after checking it, and an invalid file is refused', async () => {
    const quickstart = path.join(SOURCE_DIR, 'examples', 'quickstart.yaml');
    const r = await runKvedge(['--print-config', '-c', quickstart], { env: CLEAR });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, fs.readFileSync(quickstart, 'utf8'));
    const dir = makeTempDir('kvedge-noconf-');
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'listen:\n  - port: 80800\n');
    const b = await runKvedge(['--print-config', '-c', bad], { env: CLEAR });
    assert.equal(b.code, 1);
    assert.equal(b.stdout, '');
    assert.match(b.stderr, /bad\.yaml:2:11: error: listen\[0\]\.port/);
});

test('issue 11 quickstart: kvedge token -c examples/quickstart.yaml mints tokens the KV API accepts', async () => {
    const quickstart = path.join(SOURCE_DIR, 'examples', 'quickstart.yaml');
    const minted = await runKvedge(['token', '-c', quickstart], { env: CLEAR });
    assert.equal(minted.code, 0, minted.stderr);
    const jwt = minted.stdout.trim();
    assert.match(jwt, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const ro = await runKvedge(['token', '-c', quickstart, '--read-only', '--ttl', '5m'], { env: CLEAR });
    assert.equal(ro.code, 0, ro.stderr);
    const port = await freePort();
    const text = fs.readFileSync(quickstart, 'utf8').replace(/port: 8080\b/, `port: ${port}`);
    const k = await startKvedge(text, { port, env: CLEAR, waitReady: true });
    try {
        const url = `http://127.0.0.1:${port}/kv`;
        const redis = new Redis({ url, token: jwt });
        assert.equal(await redis.set('quickstart:jwt', 'ok'), 'OK');
        assert.equal(await new Redis({ url, token: ro.stdout.trim() }).get('quickstart:jwt'), 'ok');
        const denied = await http('GET', `${url}/set/quickstart:jwt/no`, { headers: bearer(ro.stdout.trim()) });
        assert.equal(denied.status, 400, denied.body);
        assert.match(denied.body, /NOPERM/);
        // another key signs tokens the quickstart refuses
        const other = await runKvedge(['token', '-c', quickstart], { env: { ...CLEAR, KVEDGE_JWT_KEY: 'another-key-0123456789abcdef-0123456789' } });
        assert.equal(other.code, 0, other.stderr);
        const refused = await http('GET', `${url}/get/quickstart:jwt`, { headers: bearer(other.stdout.trim()) });
        assert.equal(refused.status, 401);
    } finally {
        assertCleanExit(await k.stop());
    }
});
