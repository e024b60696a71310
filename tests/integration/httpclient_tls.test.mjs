// HTTP client (proxy/httpclient.h) over TLS: certificate chain and host-name verification done by OpenSSL
// (proxy/tls_client.h), under TLS 1.3 as well as 1.2 (h2o 2.2.5's own name check is skipped under 1.3,
// h2o-notes §9). Certificates are made by the test with openssl; upstreams are node https servers.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { assertCleanExit } from './harness.mjs';
import { startDriver, startHttpUpstream, makeCerts, pattern, sha256, waitStats } from './httpclient_helpers.mjs';

let certs;
let good; // DNS good.test + IP 127.0.0.1, signed by the test CA
let other; // DNS other.test, signed by the test CA
let untrusted; // DNS good.test, signed by a CA the client does not trust

before(() => {
    certs = makeCerts();
    good = certs.leaf({ dns: ['good.test'], ip: ['127.0.0.1'] });
    other = certs.leaf({ dns: ['other.test'] });
    untrusted = certs.leaf({ dns: ['good.test'], ip: ['127.0.0.1'], signer: certs.otherCa });
});

function tlsUpstream(leaf, version) {
    return startHttpUpstream(null, {
        tls: { key: fs.readFileSync(leaf.key), cert: fs.readFileSync(leaf.cert), minVersion: version, maxVersion: version },
    });
}

for (const version of ['TLSv1.3', 'TLSv1.2']) {
    test(`issue 7 httpclient: TLS (${version}) with a good certificate: verified by name and by IP, keep-alive`, async () => {
        const up = await tlsUpstream(good, version);
        const drv = await startDriver({
            byname: `https://127.0.0.1:${up.port},server_name=good.test,ca_file=${certs.ca.cert}`,
            byip: `https://127.0.0.1:${up.port},ca_file=${certs.ca.cert}`,
        });
        try {
            for (let i = 0; i < 5; i++) {
                const r = await drv.hc('byname', `/n${i}`);
                assert.equal(r.status, 200, r.body);
                assert.equal(JSON.parse(r.body).url, `/n${i}`);
            }
            const ip = await drv.hc('byip', '/ip');
            assert.equal(ip.status, 200, ip.body);
            const s = await drv.stats('byname');
            assert.equal(s.connections, 1, 'TLS connections are kept alive and reused');
            assert.equal(s.reused, 4);
            // a streamed body both ways over TLS
            const r = await drv.hc('byname', '/up', { method: 'POST', headers: { 'x-hc-gen-body': String(3 << 20), 'x-hc-gen-chunked': '1' } });
            assert.equal(JSON.parse(r.body).sha256, sha256(pattern(3 << 20)));
        } finally {
            assertCleanExit(await drv.stop());
            await up.stop();
        }
    });

    test(`issue 7 httpclient: TLS (${version}) with a certificate for another name fails (hostname mismatch)`, async () => {
        const up = await tlsUpstream(other, version);
        const drv = await startDriver({ a: `https://127.0.0.1:${up.port},server_name=good.test,ca_file=${certs.ca.cert}` });
        try {
            const r = await drv.hc('a', '/secret');
            assert.equal(r.status, 502);
            assert.equal(r.headers['x-hc-error'], 'UPSTREAM_TLS');
            assert.match(r.body, /hostname mismatch/);
            assert.equal(up.requests.length, 0, 'no request reached the impostor');
            assert.match(drv.stderr(), /\[warn\] httpclient: upstream https:\/\/127\.0\.0\.1:\d+: upstream TLS .* \(hostname mismatch\)/);
        } finally {
            assertCleanExit(await drv.stop());
            await up.stop();
        }
    });

    test(`issue 7 httpclient: TLS (${version}) with an untrusted CA fails (CA file and system store)`, async () => {
        const up = await tlsUpstream(untrusted, version);
        const drv = await startDriver({
            cafile: `https://127.0.0.1:${up.port},server_name=good.test,ca_file=${certs.ca.cert}`,
            system: `https://127.0.0.1:${up.port},server_name=good.test`,
        });
        try {
            for (const name of ['cafile', 'system']) {
                const r = await drv.hc(name, '/secret');
                assert.equal(r.status, 502, name);
                assert.equal(r.headers['x-hc-error'], 'UPSTREAM_TLS', name);
                assert.match(r.body, /unable to get local issuer certificate|self-signed|certificate verify failed/, name);
            }
            assert.equal(up.requests.length, 0);
        } finally {
            assertCleanExit(await drv.stop());
            await up.stop();
        }
    });
}

test('issue 7 httpclient: an IP literal is checked against the certificate IP entries', async () => {
    const up = await tlsUpstream(other, 'TLSv1.3'); // DNS other.test only, no IP entry
    const drv = await startDriver({ a: `https://127.0.0.1:${up.port},ca_file=${certs.ca.cert}` });
    try {
        const r = await drv.hc('a', '/x');
        assert.equal(r.headers['x-hc-error'], 'UPSTREAM_TLS');
        assert.match(r.body, /IP address mismatch/);
    } finally {
        assertCleanExit(await drv.stop());
        await up.stop();
    }
});

test('issue 7 httpclient: plain HTTP to a TLS upstream and a TLS handshake that never completes fail cleanly', async () => {
    const up = await tlsUpstream(good, 'TLSv1.3');
    const drv = await startDriver({
        plain: `http://127.0.0.1:${up.port},io_timeout=2000`,
    });
    try {
        const r = await drv.hc('plain', '/x');
        assert.equal(r.status >= 500, true, `${r.status}`);
        await waitStats(drv, 'plain', (s) => s.inflight === 0);
    } finally {
        assertCleanExit(await drv.stop());
        await up.stop();
    }
});

test('issue 7 httpclient: an upstream that accepts but never answers the TLS handshake hits the connect timeout', async () => {
    const net = await import('node:net');
    const srv = net.createServer(() => {}); // accepts, says nothing
    await new Promise((r) => srv.listen({ host: '127.0.0.1', port: 0 }, r));
    const drv = await startDriver({ a: `https://127.0.0.1:${srv.address().port},server_name=good.test,connect_timeout=300,io_timeout=10000` });
    try {
        const t0 = Date.now();
        const r = await drv.hc('a', '/x');
        assert.equal(r.headers['x-hc-error'], 'UPSTREAM_CONNECT_TIMEOUT');
        assert.ok(Date.now() - t0 < 3000);
    } finally {
        assertCleanExit(await drv.stop());
        srv.close();
    }
});
