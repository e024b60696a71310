// Issue 11, logs: log.format json for the error log, access_log_format json, h2o's own stderr lines through
// kvedge's logger, the client address on the SSE stream lines, and no token in either log.
//
// One kvedge (HTTP/2 on, so h2o's "skipping frame" line can be triggered) with both logs in files; every test
// reads the files whole and requires every line to be valid UTF-8 and to parse with JSON.parse.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { HOST, assertCleanExit, freePort, http, makeTempDir, rawRequest, runKvedge, startKvedge, startUpstream, waitFor, writeConfig } from './harness.mjs';
import { RW_TOKEN, openStream, startKvStack } from './kv_helpers.mjs';

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const MAX_HEADERS = 12;
let stack, dir, errorLog, accessLog;

before(async () => {
    dir = makeTempDir('kvedge-logs-');
    errorLog = path.join(dir, 'error.log');
    accessLog = path.join(dir, 'access.log');
    stack = await startKvStack({
        extra: {
            threads: 1,
            http2: true,
            limits: { max_headers: MAX_HEADERS },
            log: { format: 'json', error_log: errorLog, access_log: accessLog, access_log_format: 'json' },
        },
    });
});

after(async () => {
    const result = await stack.stop();
    assertCleanExit(result);
    // the lines written while stopping parse too, and the daemon's stderr (fd 2 is the error log) stayed empty
    readJsonLines(errorLog);
    readJsonLines(accessLog);
});

/** Every line of `file` as a parsed object; fails on a line that is not UTF-8 or not one JSON object. */
function readJsonLines(file) {
    const bytes = fs.readFileSync(file);
    assert.equal(bytes.at(-1), 0x0a, `${file} ends with a newline`);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    return bytes
        .subarray(0, bytes.length - 1)
        .toString('latin1')
        .split('\n')
        .map((line, i) => {
            const raw = Buffer.from(line, 'latin1');
            let text;
            assert.doesNotThrow(() => (text = decoder.decode(raw)), `${file} line ${i + 1} is valid UTF-8: ${line}`);
            let obj;
            assert.doesNotThrow(() => (obj = JSON.parse(text)), `${file} line ${i + 1} is JSON: ${text}`);
            assert.equal(typeof obj, 'object', `${file} line ${i + 1} is an object`);
            return obj;
        });
}

/** Waits until `file` has a JSON line for which `pred` holds; returns it. */
function waitLine(file, pred, message) {
    return waitFor(() => readJsonLines(file).find(pred), { timeoutMs: 10_000, message });
}

/** The bytes of a request line's target as JavaScript reads them back from JSON (invalid UTF-8 -> U+FFFD, WHATWG). */
function asUtf8(latin1) {
    return Buffer.from(latin1, 'latin1').toString('utf8');
}

test('issue 11 logs: every error log line is a JSON object with time, level, module, pid and msg', async () => {
    const lines = readJsonLines(errorLog);
    assert.ok(lines.length > 0);
    for (const l of lines) {
        assert.match(l.time, TIME);
        assert.ok(['error', 'warn', 'info', 'debug'].includes(l.level), JSON.stringify(l));
        assert.equal(typeof l.module, 'string');
        assert.equal(typeof l.msg, 'string');
        assert.equal(l.pid, stack.k.pid);
    }
    const started = lines.find((l) => l.module === 'main' && /^kvedge .* started/.test(l.msg));
    assert.ok(started, 'the start line');
    assert.ok(Math.abs(Date.parse(started.time) - Date.now()) < 120_000, `time ${started.time} is now, in UTC`);
});

test('issue 11 logs: quotes, backslashes, invalid UTF-8 and control bytes from a request give valid JSON in both logs', async () => {
    // raw bytes in the request target: h2o passes '"', '\' and bytes >= 0x80 through; a TAB passes in a field value
    const target = '/kv/get/q"uo\\te\xff\xc3(\xe2\x82%22%5C%0A%FF';
    const agent = 'agent\t"x"\\\xfe\xc3\xa9';
    const referer = 'http://h/"r"?a=1&_token=' + RW_TOKEN;
    const id = 'req-"1"\\';
    const req =
        `GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\nAuthorization: Bearer ${RW_TOKEN}\r\nUser-Agent: ${agent}\r\n` +
        `Referer: ${referer}\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n`;
    const res = await rawRequest(stack.k.port, req);
    assert.match(res, /^HTTP\/1\.1 200 /);

    const line = await waitLine(accessLog, (l) => l.request_id === id, 'the access log line of the raw request');
    assert.equal(line.path, asUtf8(target));
    assert.ok(line.path.includes('"') && line.path.includes('\\') && line.path.includes('\ufffd'));
    assert.equal(line.user_agent, asUtf8(agent));
    assert.ok(line.user_agent.includes('\t'));
    assert.equal(line.referer, 'http://h/"r"?a=1&_token=REDACTED');
    assert.equal(line.method, 'GET');
    assert.equal(line.host, HOST);
    assert.equal(line.protocol, 'HTTP/1.1');
    assert.equal(line.status, 200);
    assert.equal(line.remote_addr, '127.0.0.1');
    assert.equal(line.route, 'kv');
    assert.equal(line.cache, null);
    assert.ok(Number.isInteger(line.bytes_sent) && line.bytes_sent > 0, `bytes_sent ${line.bytes_sent}`);
    assert.ok(typeof line.duration_ms === 'number' && line.duration_ms >= 0 && line.duration_ms < 10_000);
    assert.match(line.time, TIME);

    // an error-log line quoting the same path: 431 from the header-count limit
    const many = Array.from({ length: MAX_HEADERS + 1 }, (_, i) => `X-F${i}: v\r\n`).join('');
    const refused = await rawRequest(stack.k.port, `GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\n${many}Connection: close\r\n\r\n`);
    assert.match(refused, /^HTTP\/1\.1 431 /);
    const logged = await waitLine(errorLog, (l) => l.module === 'limits' && l.msg.startsWith('431 for '), 'the 431 line');
    assert.equal(logged.level, 'warn');
    assert.equal(logged.msg.slice('431 for '.length, logged.msg.indexOf(': too many')), asUtf8(target.slice(0, target.indexOf('?') >>> 0)));
});

test('issue 11 logs: a token passed as ?_token= or Authorization never reaches either log', async () => {
    const secret = `${RW_TOKEN}`;
    let r = await http('GET', `${stack.url}/set/tk/v?EX=100&_token=${encodeURIComponent(secret)}`);
    assert.equal(r.status, 200);
    r = await http('GET', `${stack.url}/get/tk?%5Ftoken=${secret}`);
    assert.equal(r.status, 200);
    r = await http('GET', `${stack.url}/get/tk`, { headers: { authorization: `Bearer ${secret}`, 'x-request-id': 'auth-header' } });
    assert.equal(r.status, 200);
    r = await http('GET', `${stack.url}/get/tk?_token=wrong-${secret}`);
    assert.equal(r.status, 401);
    await waitLine(accessLog, (l) => l.request_id === 'auth-header', 'the Authorization request');
    await waitLine(accessLog, (l) => l.status === 401, 'the refused request');
    const access = readJsonLines(accessLog);
    assert.ok(access.some((l) => l.path === '/kv/set/tk/v?EX=100&_token=REDACTED'), 'the set request, redacted');
    assert.ok(access.some((l) => l.path === '/kv/get/tk?%5Ftoken=REDACTED'), 'an encoded name is redacted too');
    for (const file of [accessLog, errorLog]) {
        const text = fs.readFileSync(file, 'latin1');
        assert.ok(!text.includes(secret), `${file} holds no token`);
        assert.ok(!text.toLowerCase().includes('authorization'), `${file} holds no Authorization field`);
    }
});

/** Opens an h2c prior-knowledge connection and sends SETTINGS then one frame of an unknown type (250). */
function sendUnknownFrame(port) {
    return new Promise((resolve, reject) => {
        const sock = net.connect({ host: HOST, port }, () => {
            const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
            const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
            const unknown = Buffer.from([0, 0, 0, 250, 0, 0, 0, 0, 0]);
            sock.write(Buffer.concat([preface, settings, unknown]));
        });
        sock.on('error', reject);
        sock.on('data', () => {}); // the server's SETTINGS
        resolve(sock);
    });
}

test("issue 11 logs: a line h2o prints on stderr comes out through kvedge's logger as JSON", async () => {
    const sock = await sendUnknownFrame(stack.k.port);
    try {
        const line = await waitLine(errorLog, (l) => l.module === 'h2o', "h2o's line");
        assert.equal(line.msg, 'skipping frame (type:250)');
        assert.equal(line.level, 'warn');
        assert.match(line.time, TIME);
        assert.equal(line.pid, stack.k.pid);
    } finally {
        sock.destroy();
    }
    const raw = fs.readFileSync(errorLog, 'latin1');
    assert.ok(!/^skipping frame/m.test(raw), 'no raw h2o line in the file');
});

test('issue 11 logs: the SSE stream lines carry the client address', async () => {
    const s = await openStream(`${stack.url}/subscribe/logchan/other`, { headers: { 'x-request-id': 'sse' } });
    try {
        assert.equal(s.status, 200);
        await s.waitData('subscribe,logchan,1');
        const opened = await waitLine(errorLog, (l) => l.module === 'kv' && /stream opened/.test(l.msg), 'the stream line');
        assert.equal(opened.msg, 'SUBSCRIBE stream opened for 127.0.0.1 (2 channels)');
        assert.equal(opened.level, 'info');
    } finally {
        s.close();
    }
    const closed = await waitLine(errorLog, (l) => l.module === 'kv' && /stream of .* closed/.test(l.msg), 'the close line');
    assert.equal(closed.msg, 'SUBSCRIBE stream of 127.0.0.1 closed');
    const line = await waitLine(accessLog, (l) => l.request_id === 'sse', 'the access line of the stream');
    assert.equal(line.status, 200);
    assert.equal(line.path, '/kv/subscribe/logchan/other');
});

test("issue 11 logs: with log.format text on stderr, h2o's lines get the time and level of kvedge's own", async () => {
    const k = await startKvedge({ threads: 1, http2: true, log: { format: 'text' } });
    let result;
    try {
        const sock = await sendUnknownFrame(k.port);
        try {
            await waitFor(() => /skipping frame/.test(k.stderr()), { message: "h2o's line on stderr" });
        } finally {
            sock.destroy();
        }
    } finally {
        result = await k.stop();
    }
    assertCleanExit(result);
    assert.match(result.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[warn\] h2o: skipping frame \(type:250\)$/m);
    assert.ok(!/^skipping frame/m.test(result.stderr), 'no raw h2o line');
});

test('issue 11 logs: kvedge -t refuses an unknown log.format and accepts access_log_format json', async () => {
    const bad = writeConfig({ listen: [{ port: 8080 }], log: { format: 'yaml' } });
    let r = await runKvedge(['-t', '-c', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /log\.format/);
    assert.match(r.stderr, /text/);
    const good = writeConfig({ listen: [{ port: 8080 }], log: { format: 'json', access_log: '-', access_log_format: 'json' } });
    r = await runKvedge(['-t', '-c', good]);
    assert.equal(r.code, 0, r.stderr);
});

test('issue 11 logs: the JSON access line of a cached route carries its route and what the cache did', async () => {
    const origin = await startUpstream((req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
        res.end('hello');
    });
    const log = path.join(dir, 'cached-access.log');
    let k, result;
    try {
        k = await startKvedge({
            threads: 1,
            redis: stack.redis.url,
            routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { store_timeout: '2s' } }],
            log: { format: 'json', access_log: log, access_log_format: 'json' },
        });
        for (const id of ['c1', 'c2']) {
            const r = await http('GET', `${k.url}/api/fresh?_token=${RW_TOKEN}`, { headers: { 'x-request-id': id, 'user-agent': 'ua' } });
            assert.equal(r.status, 200);
            assert.equal(r.body, 'hello');
        }
        const lines = await waitFor(() => {
            const all = readJsonLines(log);
            return all.some((l) => l.request_id === 'c2') && all;
        }, { message: 'both cached requests logged' });
        const [first, second] = ['c1', 'c2'].map((id) => lines.find((l) => l.request_id === id));
        assert.equal(first.route, 'proxy:/api');
        assert.equal(first.cache, 'MISS');
        assert.equal(second.cache, 'HIT');
        assert.equal(second.path, '/api/fresh?_token=REDACTED');
        assert.equal(second.user_agent, 'ua');
        assert.equal(second.bytes_sent, 5);
        assert.ok(!fs.readFileSync(log, 'latin1').includes(RW_TOKEN));
    } finally {
        if (k) result = await k.stop();
        await origin.stop();
    }
    assertCleanExit(result);
});

test("issue 11 logs: h2o's errors about a request (its proxy's failed connection) come out as JSON, without the query", async () => {
    const closed = await freePort(); // nothing listens there
    const errLog = path.join(dir, 'proxy-error.log');
    let k, result;
    try {
        k = await startKvedge({
            threads: 1,
            routes: [{ path: '/down', upstream: `http://127.0.0.1:${closed}/` }],
            log: { format: 'json', error_log: errLog },
        });
        const target = '/down/a"b\\\xff?_token=' + RW_TOKEN;
        const res = await rawRequest(k.port, `GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
        assert.match(res, /^HTTP\/1\.1 502 /);
        const line = await waitLine(errLog, (l) => l.module === 'h2o', "h2o's request error");
        assert.equal(line.msg, `[lib/core/proxy.c] GET ${asUtf8('/down/a"b\\\xff')}: connection failed`);
        assert.equal(line.level, 'warn');
    } finally {
        if (k) result = await k.stop();
    }
    assertCleanExit(result);
    assert.ok(!fs.readFileSync(errLog, 'latin1').includes(RW_TOKEN), 'no token');
    assert.ok(!result.stderr.includes('lib/core/proxy.c'), 'nothing raw on stderr');
});

/** One HTTP/2 GET with `rawPath` (latin1) sent as a literal :path, control bytes and all (h2o 2.2.5 lets them through). */
function h2GetRawPath(port, rawPath, id) {
    const lit = (index, value) => {
        const v = Buffer.from(value, 'latin1');
        assert.ok(v.length < 127);
        return Buffer.concat([Buffer.from([index, v.length]), v]);
    };
    // :method GET and :scheme http from the static table, then :path (4), :authority (1), x-request-id (new name)
    const name = Buffer.from('x-request-id', 'latin1');
    const block = Buffer.concat([Buffer.from([0x82, 0x86]), lit(4, rawPath), lit(1, HOST), Buffer.from([0x00, name.length]), name,
        lit(0, id).subarray(1)]);
    const headers = Buffer.from([0, 0, block.length, 1, 0x05, 0, 0, 0, 1]); // HEADERS, END_STREAM | END_HEADERS, stream 1
    return new Promise((resolve, reject) => {
        const sock = net.connect({ host: HOST, port }, () => {
            sock.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
                headers, block]));
        });
        sock.on('error', reject);
        sock.on('data', () => {});
        resolve(sock);
    });
}

test('issue 11 logs: raw control bytes in an HTTP/2 :path give a valid JSON access line', async () => {
    const rawPath = '/kv/get/c\x01\x1f\x7f"\\\t\xff\xc3?_token=' + RW_TOKEN;
    const sock = await h2GetRawPath(stack.k.port, rawPath, 'h2-ctl');
    try {
        const line = await waitLine(accessLog, (l) => l.request_id === 'h2-ctl', 'the HTTP/2 request');
        assert.equal(line.protocol, 'HTTP/2');
        assert.equal(line.path, asUtf8('/kv/get/c\x01\x1f\x7f"\\\t\xff\xc3?_token=REDACTED'));
        assert.ok(line.path.includes('\x01') && line.path.includes('\t'));
    } finally {
        sock.destroy();
    }
    assert.ok(!fs.readFileSync(accessLog, 'latin1').includes(RW_TOKEN));
});

test('issue 11 logs: a reload that switches log.format to json makes the next lines JSON, h2o lines included', async () => {
    const k = await startKvedge({ threads: 1, http2: true, log: { format: 'text' } });
    let result;
    try {
        writeConfig({ ...k.config, log: { format: 'json' } }, { dir: k.dir });
        k.kill('SIGHUP');
        await waitFor(() => /"module":"reload","pid":\d+,"msg":"configuration 2 serving/.test(k.stderr()), { message: 'the reload' });
        const sock = await sendUnknownFrame(k.port);
        try {
            await waitFor(() => /"module":"h2o","pid":\d+,"msg":"skipping frame \(type:250\)"/.test(k.stderr()), { message: "h2o's line" });
        } finally {
            sock.destroy();
        }
    } finally {
        result = await k.stop();
    }
    assertCleanExit(result);
    const lines = result.stderr.split('\n').filter((l) => l !== '');
    const first = lines.findIndex((l) => l.startsWith('{'));
    assert.ok(first > 0, 'text lines, then JSON ones');
    assert.match(lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z \[info\] /);
    for (const l of lines.slice(first)) assert.doesNotThrow(() => JSON.parse(l), l);
});
