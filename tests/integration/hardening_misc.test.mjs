// Hardening of the KV REST API, part "misc" (issue items 6, 9, 11, 12, 15): SSE output that cannot be split
// into forged events, JWT claim arithmetic and lifetime cap, `kvedge -t` never quoting a secret on a YAML
// syntax error, duplicate tokens, and the per-token stream
// cap with prompt release of a stream whose client left. Real redis-server, real kvedge; every kvedge this
// file starts must exit cleanly (exit 0, no sanitizer report in the ASan build).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { assertCleanExit, http, runKvedge, SANITIZE, startKvedge, startRedis, waitFor, writeConfig } from './harness.mjs';
import { kvConfig, RO_TOKEN, RW_TOKEN } from './kv_helpers.mjs';

/** time bounds are stretched in sanitizer builds */
const SLOW = SANITIZE ? 3 : 1;
const JWT_KEY = 'jwt-key-0123456789abcdef0123456789abcdef';

let redis, io;

before(async () => {
    redis = await startRedis();
    io = redis.client();
});

after(async () => {
    io?.disconnect();
    await redis?.stop();
});

/** A kvedge for one test on the shared Redis (kv: extra kv keys, extra: top-level keys); stop it with done(k). */
function startKv(kv = {}, extra = {}) {
    return startKvedge(kvConfig(redis.url, kv, { threads: 1, ...extra }));
}

async function done(k) {
    assertCleanExit(await k.stop());
}

const auth = (token = RW_TOKEN) => ({ authorization: `Bearer ${token}` });

function cmd(k, command, token = RW_TOKEN, headers = {}) {
    return http('POST', `${k.url}/kv`, { headers: { ...auth(token), ...headers }, body: JSON.stringify(command) });
}

function expectJson(r, status, body, what = '') {
    assert.equal(r.status, status, `${what} status (body ${r.body.slice(0, 300)})`);
    assert.equal(r.headers['content-type'], 'application/json', what);
    assert.deepEqual(JSON.parse(r.body), body, what);
}

const nowSec = () => Math.floor(Date.now() / 1000);
const b64url = (s) => Buffer.from(s).toString('base64url');

/** An HS256 JWT over the claims text as given (so integers beyond 2^53 keep every digit). */
function jwtRaw(claimsJson, key = JWT_KEY) {
    const signing = `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url(claimsJson)}`;
    return `${signing}.${crypto.createHmac('sha256', key).update(signing).digest('base64url')}`;
}

// ---------------------------------------------------------------------------------------------
// item 12: JWT claim arithmetic; item 15(c): the lifetime cap

test('issue 12.1: a JWT with exp 2^63-1 (or nbf/iat at the int64 extremes) is refused with a reason, kvedge stays up', async () => {
    const k = await startKv({ jwt_key: JWT_KEY });
    try {
        const now = nowSec();
        const claims = (times) => `{"aud":"kvedge:kv","access":"rw"${times}}`;
        const cases = [
            [`,"exp":9223372036854775807`, 'exp is further ahead than kv.jwt_max_ttl'],
            [`,"exp":9223372036854775807,"iat":-9223372036854775808`, 'exp is further ahead than kv.jwt_max_ttl'],
            [`,"exp":-9223372036854775808`, 'expired'],
            [`,"exp":${now + 60},"nbf":9223372036854775807`, 'not valid yet \\(nbf\\)'],
            [`,"exp":${now + 60},"iat":9223372036854775807`, 'issued in the future \\(iat\\)'],
            [`,"exp":${now + 60},"iat":-9223372036854775808`, 'lifetime \\(exp - iat\\) longer than kv.jwt_max_ttl'],
        ];
        for (const [times, why] of cases) {
            expectJson(await cmd(k, ['PING'], jwtRaw(claims(times))), 401, { error: 'WRONGPASS invalid or missing auth token' }, times);
            await waitFor(() => new RegExp(`kv: 401 for 127\\.0\\.0\\.1: jwt refused: ${why}$`, 'm').test(k.stderr()),
                { message: `logged: ${why}` });
        }
        expectJson(await cmd(k, ['PING'], jwtRaw(claims(`,"exp":${now + 60},"iat":${now},"nbf":${now}`))), 200, { result: 'PONG' },
            'a sane token still works');
    } finally {
        await done(k);
    }
});

test('issue 15.3: kv.jwt_max_ttl (default 24h) caps `kvedge token --ttl` and the JWTs the server accepts', async () => {
    const k = await startKv({ jwt_key: JWT_KEY, jwt_max_ttl: '1h' });
    const dflt = writeConfig(kvConfig(redis.url, { jwt_key: JWT_KEY }, { listen: [{ port: 1 }] }));
    try {
        // the default cap is 24h
        const over = await runKvedge(['token', '-c', dflt, '--ttl', '25h']);
        assert.equal(over.code, 1);
        assert.equal(over.stdout, '');
        assert.equal(over.stderr, `kvedge token: --ttl 25h is longer than kv.jwt_max_ttl (24h in ${dflt})\n`);
        const day = await runKvedge(['token', '-c', dflt, '--ttl', '24h']);
        assert.equal(day.code, 0, day.stderr);

        const long = await runKvedge(['token', '-c', k.configPath, '--ttl', '2h']);
        assert.equal(long.code, 1);
        assert.equal(long.stderr, `kvedge token: --ttl 2h is longer than kv.jwt_max_ttl (1h in ${k.configPath})\n`);
        // without --ttl: 1h, or the cap when it is shorter
        const short = await startKv({ jwt_key: JWT_KEY, jwt_max_ttl: '10m' });
        try {
            const minted = await runKvedge(['token', '-c', short.configPath]);
            assert.equal(minted.code, 0, minted.stderr);
            const c = JSON.parse(Buffer.from(minted.stdout.trim().split('.')[1], 'base64url'));
            assert.equal(c.exp - c.iat, 600);
            expectJson(await cmd(short, ['PING'], minted.stdout.trim()), 200, { result: 'PONG' });
        } finally {
            await done(short);
        }

        // the server: exp (or exp - iat) beyond the cap is refused; within it accepted
        const now = nowSec();
        const tok = (times) => jwtRaw(`{"aud":"kvedge:kv","access":"rw"${times}}`);
        const refused = { error: 'WRONGPASS invalid or missing auth token' };
        expectJson(await cmd(k, ['PING'], tok(`,"exp":${now + 7200}`)), 401, refused, 'exp 2h ahead, no iat');
        expectJson(await cmd(k, ['PING'], tok(`,"exp":${now + 1800},"iat":${now - 5400}`)), 401, refused, 'minted for 2h');
        expectJson(await cmd(k, ['PING'], tok(`,"exp":${now + 3000},"iat":${now}`)), 200, { result: 'PONG' }, 'within 1h');
        // a token minted under a longer cap (24h) stops working when the cap is lowered (1h)
        const dayToken = day.stdout.trim();
        expectJson(await cmd(k, ['PING'], dayToken), 401, refused, '24h token under a 1h cap');
        await waitFor(() => /jwt refused: exp is further ahead than kv\.jwt_max_ttl$/m.test(k.stderr()), { message: 'the refusal logged' });
    } finally {
        await done(k);
    }
});

// ---------------------------------------------------------------------------------------------
// item 6: SSE output

/**
 * Parses an event stream exactly as a browser's EventSource does (WHATWG HTML, "event stream interpretation"):
 * lines end at CRLF, a lone LF or a lone CR; a blank line dispatches the event (if its data is not empty);
 * "data" lines append their value plus LF, the last LF is dropped; ":" lines are comments; one space after the
 * colon is dropped. Returns [{type, data}] for the complete lines of `text`.
 */
function parseEventStream(text) {
    const events = [];
    let data = '';
    let type = '';
    const body = text.replace(/^\uFEFF/, '');
    const lines = body.split(/\r\n|\r|\n/);
    lines.pop(); // the part after the last line end is not a line yet
    for (const line of lines) {
        if (line === '') {
            if (data !== '') events.push({ type: type || 'message', data: data.slice(0, -1) });
            data = '';
            type = '';
            continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data += `${value}\n`;
        else if (field === 'event') type = value;
    }
    return events;
}

/** An SSE request read as raw bytes; events() parses what arrived so far. */
async function openRawStream(url, token = RW_TOKEN) {
    const { default: httpMod } = await import('node:http');
    const u = new URL(url);
    return new Promise((resolve, reject) => {
        const r = httpMod.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'GET', agent: false,
            headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } });
        r.on('error', reject);
        r.setTimeout(60_000, () => r.destroy(new Error('stream timed out')));
        r.on('response', (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            const text = () => Buffer.concat(chunks).toString('utf8');
            const ended = new Promise((ok) => {
                res.on('end', ok);
                res.on('close', ok);
            });
            resolve({
                status: res.statusCode,
                ended,
                headers: res.headers,
                text,
                events: () => parseEventStream(text()),
                waitEvents: (n) => waitFor(() => parseEventStream(text()).length >= n,
                    { timeoutMs: 5000 * SLOW, intervalMs: 10, message: `${n} events; got ${JSON.stringify(text())}` }),
                close: () => r.destroy(),
            });
        });
        r.end();
    });
}

/** What a browser should see for `s`: every CRLF, CR and LF is one line break, given to the page as LF. */
const lf = (s) => s.replace(/\r\n|\r|\n/g, '\n');

const HOSTILE = [
    'plain',
    'lf\n\ndata: forged-lf\n\n',
    'cr\r\rdata: forged-cr\r\r',
    'crlf\r\n\r\ndata: forged-crlf\r\n\r\n',
    'mixed\r\n\n\r\revent: evil\ndata: forged-mixed\r',
    'trailing-cr\r',
    '\r\nleading',
    ': comment\nid: 1\nretry: 1\n\n',
];

test('issue 6.1: hostile PUBLISH payloads (CR, LF, CRLF) never end an event: one event each, data as a browser reads it', async () => {
    const k = await startKv();
    const s = await openRawStream(`${k.url}/kv/subscribe/news`);
    try {
        assert.equal(s.status, 200);
        await s.waitEvents(1);
        for (const payload of HOSTILE) assert.equal(await io.publish('news', payload), 1);
        await s.waitEvents(1 + HOSTILE.length);
        await io.publish('news', 'last');
        await s.waitEvents(2 + HOSTILE.length);
        const events = s.events();
        assert.deepEqual(events, [
            { type: 'message', data: 'subscribe,news,1' },
            ...HOSTILE.map((p) => ({ type: 'message', data: lf(`message,news,${p}`) })),
            { type: 'message', data: 'message,news,last' },
        ]);
    } finally {
        s.close();
        await done(k);
    }
});

test('issue 6.2: hostile channel names reaching a PSUBSCRIBE (published by others) never forge events either', async () => {
    const k = await startKv();
    const s = await openRawStream(`${k.url}/kv/psubscribe/evil*`);
    try {
        assert.equal(s.status, 200);
        await s.waitEvents(1);
        const channels = HOSTILE.map((h) => `evil${h}`);
        for (const [i, ch] of channels.entries()) assert.equal(await io.publish(ch, `payload\r${i}`), 1);
        await io.publish('evil-last', 'end');
        await s.waitEvents(2 + channels.length);
        assert.deepEqual(s.events(), [
            { type: 'message', data: 'psubscribe,evil*,1' },
            ...channels.map((ch, i) => ({ type: 'message', data: lf(`pmessage,evil*,${ch},payload\r${i}`) })),
            { type: 'message', data: 'pmessage,evil*,evil-last,end' },
        ]);
    } finally {
        s.close();
        await done(k);
    }
});

test('issue 6.3: /subscribe and /psubscribe refuse channel names and patterns with CR or LF (400), others still work', async () => {
    const k = await startKv();
    try {
        for (const name of ['a%0Ab', 'a%0Db', 'a%0D%0Ab', '%0A', 'ok/a%0Ab']) {
            for (const kind of ['subscribe', 'psubscribe']) {
                const r = await openRawStream(`${k.url}/kv/${kind}/${name}`); // (a stream, if accepted)
                if (r.status === 200) r.close();
                assert.equal(r.status, 400, `${kind}/${name}`);
                await r.ended;
                assert.deepEqual(JSON.parse(r.text()),
                    { error: 'ERR channel names must be non-empty, without commas or line breaks, and within the key size limit' });
            }
        }
        const s = await openRawStream(`${k.url}/kv/subscribe/a%09b`); // a tab is fine
        assert.equal(s.status, 200);
        await s.waitEvents(1);
        assert.deepEqual(s.events(), [{ type: 'message', data: 'subscribe,a\tb,1' }]);
        s.close();
    } finally {
        await done(k);
    }
});

test('issue 6.4: MONITOR lines of commands with CR/LF in their arguments stay one event each', async () => {
    const k = await startKv({ allow_commands: ['monitor'] });
    const s = await openRawStream(`${k.url}/kv/monitor`);
    try {
        assert.equal(s.status, 200);
        await s.waitEvents(1);
        await io.set('mon:k', 'v\r\n\r\ndata: forged\r\rx');
        await io.set('mon:end', 'end');
        await waitFor(() => s.events().some((e) => e.data.includes('mon:end')), { message: 'the last MONITOR line' });
        const events = s.events();
        assert.equal(events[0].data, '"OK"');
        const mine = events.filter((e) => e.data.includes('mon:'));
        assert.equal(mine.length, 2, JSON.stringify(events));
        assert.ok(!events.some((e) => e.data.startsWith('data:') || e.data === 'forged'), JSON.stringify(events));
    } finally {
        s.close();
        await done(k);
    }
});

// ---------------------------------------------------------------------------------------------
// item 15(a), (b): stream slots

/** Opens a stream; resolves {status, body (for an error), stream (for a 200)} once the headers are in. */
async function tryStream(url, token) {
    const s = await openRawStream(url, token);
    if (s.status === 200) return { status: 200, stream: s };
    await s.ended;
    return { status: s.status, body: JSON.parse(s.text()) };
}

test('issue 15.1: kv.max_streams_per_token: one token cannot take every stream slot (503 JSON over it), other tokens can', async () => {
    const k = await startKv({ max_streams: 10, max_streams_per_token: 2, allow_commands: ['monitor'] });
    const open = [];
    try {
        for (let i = 0; i < 2; i++) {
            const r = await tryStream(`${k.url}/kv/subscribe/ro${i}`, RO_TOKEN);
            assert.equal(r.status, 200);
            open.push(r.stream);
        }
        const over = await tryStream(`${k.url}/kv/subscribe/ro2`, RO_TOKEN);
        assert.equal(over.status, 503);
        assert.deepEqual(over.body, { error: 'ERR too many streams for this token (kv.max_streams_per_token is 2)' });
        await waitFor(() => /\[warn\] kv: kv\.max_streams_per_token \(2\) reached for a token \(sha256 [0-9a-f]{8}\): refusing its new streams until one closes$/m.test(k.stderr()),
            { message: 'the warning line' });
        assert.ok(!k.stderr().includes(RO_TOKEN), 'the token is not logged');
        const rw = await tryStream(`${k.url}/kv/monitor`, RW_TOKEN);
        assert.equal(rw.status, 200, 'another token still gets a stream');
        open.push(rw.stream);
        // a slot of that token comes back when one of its streams closes
        open.shift().close();
        await waitFor(async () => {
            const r = await tryStream(`${k.url}/kv/subscribe/ro3`, RO_TOKEN);
            if (r.status === 200) open.push(r.stream);
            return r.status === 200;
        }, { message: 'a stream for the token after one closed' });
    } finally {
        for (const s of open) s.close();
        await done(k);
    }
});

test('issue 15.2: a stream whose client left before Redis answered frees its slot at once (not at the connect timeout)', async () => {
    const k = await startKv({ max_streams: 1 }, { redis: { url: redis.url, connect_timeout: '20s' } });
    const later = [];
    try {
        await redis.kill('SIGSTOP');
        // client A asks for a stream and leaves while Redis does not answer
        const a = net.connect({ host: '127.0.0.1', port: k.port });
        await new Promise((ok) => a.once('connect', ok));
        a.write(`GET /kv/subscribe/left HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${RW_TOKEN}\r\n\r\n`);
        await new Promise((ok) => setTimeout(ok, 300));
        a.destroy();
        await new Promise((ok) => setTimeout(ok, 300));
        // B gets the slot: its request waits for Redis instead of a 503 at once
        let answered = null;
        const b = tryStream(`${k.url}/kv/subscribe/after`, RW_TOKEN).then((r) => (answered = r));
        later.push(b);
        await new Promise((ok) => setTimeout(ok, 1000));
        assert.equal(answered, null, `B was answered at once: ${JSON.stringify(answered?.body)}`);
        await redis.kill('SIGCONT');
        const r = await b;
        assert.equal(r.status, 200, JSON.stringify(r.body));
        await r.stream.waitEvents(1);
        assert.deepEqual(r.stream.events(), [{ type: 'message', data: 'subscribe,after,1' }]);
        r.stream.close();
        const [, n] = await io.pubsub('NUMSUB', 'left');
        assert.equal(Number(n), 0, 'the Redis subscription of A never happened or was closed');
    } finally {
        await redis.kill('SIGCONT');
        await Promise.allSettled(later);
        await done(k);
    }
});

// ---------------------------------------------------------------------------------------------
// item 9 (golden outputs: tests/conf/bad/syntax_secret_*.yaml) and 15(d) (tests/conf/bad/kv_token_twice.yaml)

test('issue 9.1: no YAML syntax error (or other error) near a secret prints any part of it', async () => {
    const S = 'Zq7s3cr3tVaLu3x9';
    const bodies = [
        `kv:\n  tokens:\n    - token: ${S}: x\n`,
        `kv:\n  tokens:\n    - token: "${S}\n      ${S}\\q"\n`,
        `kv:\n  jwt_key: |\n\t${S}${S}\n`,
        `kv:\n  jwt_key: >\n    ${S}${S}\n  \t${S}\n`,
        `admin:\n  token: [${S}\n`,
        `admin: {token: ${S}, x: [}\n`,
        `admin: {token: ${S},\n  ${S}: [}\n`,
        `redis: redis://u:${S}@127.0.0.1:1/0 a: b\n`,
        `redis:\n  password: ${S} : : x\n`,
        `redis:\n  pasword: ${S}: x\n`,
        `redis:\n  PASSWORD: "${S}\n${S}\n`,
        `kv:\n  tokens: [{token: "${S}\n${S}\\q"}]\n`,
        `kv:\n  tokens:\n    - token: '${S}\n${S}'x: y\n`,
        `kv:\n  tokens:\n    - token:\n        ${S}: x\n`,
        `kv:\n  tokens:\n    - token: ${S}\n${S}\n`,
        `kv:\n  tokens:\n    - token: ${S}\n    - token: ${S}\n`,
        `kv:\n  tokens:\n    - {token: ${S}, access: read-only}\n    - token: ${S}\n`,
        `kv: {jwt_key: ${S}}\n`,
        `redis: "redis://:${S}@h:1/x"\n`,
        `admin:\n  tokn: ${S}\n  token: ${S}\n  token: ${S}\n`,
    ];
    for (const body of bodies) {
        const file = writeConfig(`listen:\n  - port: 8080\n${body}`);
        const r = await runKvedge(['-t', '-c', file]);
        assert.equal(r.code, 1, `${JSON.stringify(body)} is an error`);
        assert.match(r.stderr, /:\d+:\d+: error: /, JSON.stringify(body));
        for (let i = 0; i + 6 <= S.length; i++)
            assert.ok(!r.stderr.includes(S.slice(i, i + 6)), `part of the secret shown for ${JSON.stringify(body)}:\n${r.stderr}`);
    }
});

// item 11 (the sync-token counter's sanity) is gone with the counter: sync tokens no longer use a key (issue 7,
// tests/integration/platform_sync.test.mjs).

