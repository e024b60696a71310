// The KV REST driver (issue 9) over https: kvedge B serves its /kv API over TLS with a certificate from a CA the
// test makes; kvedge A's REST store verifies it (ca_file). A certificate for another name, or from a CA A does not
// trust, is refused: A's clients get a clean 503 and A's log says why.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { http, startKvedge, startRedis, assertCleanExit, HOST } from './harness.mjs';
import { kvConfig, RW_TOKEN } from './kv_helpers.mjs';
import { makeCerts } from './httpclient_helpers.mjs';
import { startEdge } from './restdrv_helpers.mjs';

let certs, redis;
before(async () => {
    certs = makeCerts();
    redis = await startRedis();
});
after(async () => {
    if (redis) await redis.stop();
});

/* kvedge B with its KV API over TLS, certificate `leaf` */
function startTlsB(leaf) {
    const cfg = kvConfig(redis.url);
    cfg.listen = [{ host: HOST, tls: { cert_file: leaf.cert, key_file: leaf.key } }];
    return startKvedge(cfg);
}

const auth = { authorization: `Bearer ${RW_TOKEN}` };
const cmd = (url, body) => http('POST', `${url}/`, { headers: auth, body: JSON.stringify(body), timeoutMs: 8000 });

test('issue 9: https with a CA made in the test: verified, the data goes through', async () => {
    const b = await startTlsB(certs.leaf({ dns: ['good.test'], ip: ['127.0.0.1'] }));
    let a;
    try {
        a = await startEdge(`https://127.0.0.1:${b.port}/kv`, { store: { ca_file: certs.ca.cert } });
        const set = await cmd(a.url, ['SET', 'tls:k', 'over tls']);
        assert.equal(set.status, 200, set.body);
        const got = await cmd(a.url, ['GET', 'tls:k']);
        assert.equal(JSON.parse(got.body).result, 'over tls');
        assert.equal((await http('GET', `${a.k.adminUrl}readyz`)).status, 200);
    } finally {
        if (a) assertCleanExit(await a.k.stop(), 'kvedge A');
        assertCleanExit(await b.stop(), 'kvedge B');
    }
});

for (const [what, leafOpts] of [
    ['a certificate for another name', { dns: ['other.test'] }],
    ['a certificate from a CA A does not trust', { dns: ['good.test'], ip: ['127.0.0.1'], untrusted: true }],
]) {
    test(`issue 9: https with ${what} is refused with a clear log line; clients get 503`, async () => {
        const leaf = certs.leaf({ dns: leafOpts.dns, ip: leafOpts.ip ?? [], signer: leafOpts.untrusted ? certs.otherCa : certs.ca });
        const b = await startTlsB(leaf);
        let a;
        try {
            a = await startEdge(`https://127.0.0.1:${b.port}/kv`, { store: { ca_file: certs.ca.cert } });
            const r = await cmd(a.url, ['GET', 'tls:k']);
            assert.equal(r.status, 503, r.body);
            assert.equal((await http('GET', `${a.k.adminUrl}readyz`)).status, 503);
            assert.match(a.k.stderr(), /kv-rest: TLS with https:\/\/127\.0\.0\.1:\d+\/kv \(store central\) failed: .*(certificate|verify|mismatch)/i);
            await new Promise((r) => setTimeout(r, 600)); // more probes fail: no more lines
            const lines = a.k.stderr().split('\n').filter((l) => /kv-rest: TLS with/.test(l));
            assert.ok(lines.length <= 2, `one line per link (2 threads), got ${lines.length}`);
        } finally {
            if (a) assertCleanExit(await a.k.stop(), 'kvedge A');
            assertCleanExit(await b.stop(), 'kvedge B');
        }
    });
}
