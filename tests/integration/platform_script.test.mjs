// Issue 7, review fix 1: the circuit breaker must not cut off the script watchdog. A script holds the link's
// connection: commands queued behind it on the same link time out, and before the fix their timeouts tripped the
// breaker (5 in a row, default) before the script's own timeout, so the link was rebuilt, the script's request got
// 503 instead of 504, SCRIPT KILL was never sent and Redis kept running the script. Timeouts of commands queued
// behind a running script now do not count until the watchdog has done its part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { http, SANITIZE, sleep, startKvedge, startRedis, stopKvedgeThen, waitFor } from './harness.mjs';
import { RW_TOKEN, kvConfig } from './kv_helpers.mjs';

const SLOW = SANITIZE ? 3 : 1;

async function kv(base, command, timeoutMs = 30_000) {
    const r = await http('POST', base, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(command), timeoutMs });
    return { status: r.status, body: JSON.parse(r.body), at: Date.now() };
}

function metric(text, name) {
    const m = new RegExp(`^${name}\\{store="default"\\} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
}

test('issue 7: the breaker does not cut off the script watchdog: GETs queued behind a looping script time out, the script is killed at its timeout (504), the link is not rebuilt', async () => {
    // busy-reply-threshold below the script timeout: Redis accepts SCRIPT KILL from another connection at once then
    const redis = await startRedis({ args: ['--busy-reply-threshold', '2000'] });
    // defaults otherwise: redis.command_timeout 1s, breaker_threshold 5
    const k = await startKvedge(kvConfig(redis.url, { script_timeout: '3s' }, { threads: 1 }), { waitReady: true });
    try {
        const base = `${k.url}/kv`;
        const t0 = Date.now();
        const script = kv(base, ['EVAL', 'while true do end', '0']);
        const gets = [];
        for (let i = 0; i < 6; i++) {
            await sleep(100);
            gets.push(kv(base, ['GET', `k${i}`]));
        }
        for (const g of await Promise.all(gets)) assert.equal(g.status, 504, `a GET behind the script: ${JSON.stringify(g.body)}`);
        const r = await script;
        const ms = r.at - t0;
        assert.equal(r.status, 504, `the script's request: ${JSON.stringify(r.body)} after ${ms} ms`);
        assert.ok(ms >= 2900 && ms < 3000 + 2000 * SLOW, `504 after ${ms} ms (script_timeout 3s)`);
        await waitFor(() => /stopped a script that ran past its timeout \(SCRIPT KILL\)/.test(k.stderr()), {
            timeoutMs: 5000 * SLOW,
            message: 'SCRIPT KILL logged',
        });
        // after the kill the store serves again, on the same link
        assert.deepEqual((await kv(base, ['SET', 'after', 'x'])).body, { result: 'OK' });
        assert.deepEqual((await kv(base, ['GET', 'after'])).body, { result: 'x' });
        const m = (await http('GET', `${k.url}/metrics`)).body;
        assert.equal(metric(m, 'kvedge_kv_reconnects_total'), 0, 'the link was not rebuilt');
        assert.doesNotMatch(k.stderr(), /is down/, 'no link outage');
        assert.doesNotMatch(k.stderr(), /timed out in a row/, 'the breaker did not trip');
    } finally {
        await stopKvedgeThen(k, redis);
    }
});
