// Issue 7, review fix 2: /metrics reads every thread's link counters, and a thread stopping destroys its links.
// The counters now live in the stores set (freed only after every worker was joined), so a scrape served while
// another thread runs its stop hook reads memory that is still there. Scrapers hammer /metrics from several
// keep-alive connections while SIGTERM stops kvedge; the sanitizer build must stay clean. (The race window is a
// few microseconds per stop: this test cannot make the old use-after-free fail every time.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import httpMod from 'node:http';
import { assertCleanExit, http, startKvedge, startRedis } from './harness.mjs';
import { kvConfig } from './kv_helpers.mjs';

/** GETs /metrics back to back on one keep-alive connection until it fails (the server stopped) */
async function scrape(url, agent, stats) {
    for (;;) {
        try {
            const r = await http('GET', `${url}/metrics`, { agent, timeoutMs: 5000 });
            if (r.status === 200) ++stats.ok;
        } catch {
            return;
        }
    }
}

test('issue 7: /metrics scraped in a tight loop from several connections while SIGTERM stops kvedge: clean exit, no use-after-free', async () => {
    const redis = await startRedis();
    try {
        for (let round = 0; round < 5; round++) {
            const k = await startKvedge(kvConfig(redis.url, {}, { threads: 4 }), { waitReady: true });
            const agent = new httpMod.Agent({ keepAlive: true, maxSockets: 8 });
            const stats = { ok: 0 };
            const scrapers = Array.from({ length: 8 }, () => scrape(k.url, agent, stats));
            while (stats.ok < 40) await new Promise((r) => setTimeout(r, 5));
            const result = await k.stop({ signal: 'SIGTERM' });
            await Promise.all(scrapers);
            agent.destroy();
            assertCleanExit(result);
            assert.ok(stats.ok >= 40, `scrapes answered: ${stats.ok}`);
        }
    } finally {
        await redis.stop();
    }
});
