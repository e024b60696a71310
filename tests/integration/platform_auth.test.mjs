// Issue 7, review fix 3: a store that refuses kvedge's credentials (WRONGPASS on AUTH, NOAUTH when kvedge sends
// none) is KVE_EAUTH, not a connection failure: the KV API answers 503 "kv store refused the credentials", /readyz
// says so, and the log has one error line per episode naming the store, never the password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { http, sleep, startKvedge, startRedis, stopKvedgeThen, waitFor } from './harness.mjs';
import { RW_TOKEN, kvConfig } from './kv_helpers.mjs';

const SECRET = 'right-secret-7c1e';
const WRONG = 'wrong-secret-4b9d';

async function kv(k, command) {
    const r = await http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(command) });
    return { status: r.status, body: JSON.parse(r.body) };
}

for (const [what, url, reply] of [
    ['a wrong password (WRONGPASS)', (port) => `redis://:${WRONG}@127.0.0.1:${port}`, /WRONGPASS/],
    ['no password (NOAUTH)', (port) => `redis://127.0.0.1:${port}`, /NOAUTH/],
]) {
    test(`issue 7: a store that refuses the credentials, ${what}: 503 "kv store refused the credentials", /readyz says so, one log line without the secret`, async () => {
        const redis = await startRedis();
        await redis.client().config('SET', 'requirepass', SECRET); // after the harness' PING
        const k = await startKvedge(kvConfig(url(redis.port), {}, { threads: 2 }));
        try {
            assert.deepEqual(await kv(k, ['GET', 'a']), { status: 503, body: { error: 'ERR kv store refused the credentials' } });
            const r = await http('GET', `${k.url}/readyz`);
            assert.equal(r.status, 503);
            assert.match(r.body, /store default, thread \d: kv store refused the credentials/);
            // several reconnect attempts later (backoff from 50 ms): still one line per link and episode
            await sleep(1500);
            assert.deepEqual(await kv(k, ['SET', 'a', '1']), { status: 503, body: { error: 'ERR kv store refused the credentials' } });
            const lines = k.stderr().split('\n').filter((l) => /refused the credentials/.test(l));
            assert.equal(lines.length, 2, `one line per link (2 threads):\n${lines.join('\n')}`);
            for (const l of lines) {
                assert.match(l, /error/i);
                assert.match(l, /store default/);
                assert.match(l, reply);
            }
            assert.doesNotMatch(k.stderr(), new RegExp(WRONG), 'the password is never logged');
            assert.doesNotMatch(k.stderr(), /is down: handshake failed/, 'not reported as a connection failure');
        } finally {
            await stopKvedgeThen(k, redis);
        }
    });
}

test('issue 7: after the credentials are fixed on the store, the link comes up and a new refusal is a new episode', async () => {
    const redis = await startRedis();
    const io = redis.client();
    await io.config('SET', 'requirepass', SECRET); // io stays authenticated
    const k = await startKvedge(kvConfig(`redis://:${WRONG}@127.0.0.1:${redis.port}`, {}, { threads: 1 }));
    try {
        await waitFor(() => /refused the credentials/.test(k.stderr()), { message: 'the refusal logged' });
        await io.config('SET', 'requirepass', WRONG);
        await waitFor(async () => (await kv(k, ['SET', 'a', '1'])).status === 200, { message: 'the link comes up' });
        await io.config('SET', 'requirepass', SECRET);
        await io.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        await waitFor(() => k.stderr().split('\n').filter((l) => /refused the credentials/.test(l)).length === 2, {
            message: 'a second episode logged',
        });
        assert.equal((await kv(k, ['GET', 'a'])).status, 503);
        assert.doesNotMatch(k.stderr(), new RegExp(`${WRONG}|${SECRET}`), 'no password in the log');
    } finally {
        await stopKvedgeThen(k, redis);
    }
});
