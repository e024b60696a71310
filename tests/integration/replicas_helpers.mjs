// Issue 12 (scale-out), the replicas topology: helpers shared by scale_replicas.test.mjs and its throttled-link child
// (replicas_throttled_child.mjs): a KV client that keeps its sync token, /metrics' node counters, write->read pairs.
import httpMod from 'node:http';
import { http } from './harness.mjs';
import { RW_TOKEN } from './kv_helpers.mjs';

/** A KV API client that keeps its own sync token, as the SDKs do, on one keep-alive connection. */
export function client(k) {
    const agent = new httpMod.Agent({ keepAlive: true, maxSockets: 1 });
    let token = '';
    return {
        async send(cmd, { withToken = true } = {}) {
            const headers = { authorization: `Bearer ${RW_TOKEN}` };
            if (withToken) headers['upstash-sync-token'] = token;
            const r = await http('POST', `${k.url}/kv`, { headers, body: JSON.stringify(cmd), agent });
            if (r.headers['upstash-sync-token']) token = r.headers['upstash-sync-token'];
            return r;
        },
        get token() {
            return token;
        },
        close: () => agent.destroy(),
    };
}

/** The node counters of /metrics: {primary: {reads}, replicas: [{node, reads, fallbacks, up}]} (store default). */
export async function nodeMetrics(k) {
    const text = (await http('GET', `${k.url}/metrics`)).body;
    const out = { primary: null, replicas: new Map() };
    for (const m of text.matchAll(/^kvedge_kv_(node_up|node_reads_total|replica_fallbacks_total)\{store="default",node="([^"]+)",role="(\w+)"\} (\d+)$/gm)) {
        const [, name, node, role, v] = m;
        const entry = role === 'primary' ? (out.primary ??= { node }) : out.replicas.get(node) ?? out.replicas.set(node, { node }).get(node);
        entry[{ node_up: 'up', node_reads_total: 'reads', replica_fallbacks_total: 'fallbacks' }[name]] = Number(v);
    }
    out.replicas = [...out.replicas.values()];
    out.replicaReads = out.replicas.reduce((a, r) => a + r.reads, 0);
    return out;
}

export const diff = (after, before) => ({
    primary: after.primary.reads - before.primary.reads,
    replicas: after.replicas.map((r, i) => r.reads - before.replicas[i].reads),
    fallbacks: after.replicas.map((r, i) => r.fallbacks - before.replicas[i].fallbacks),
});

/**
 * `clients` clients each doing `pairs` SET -> GET pairs with their token (values of `pad` more bytes), until `deadline`;
 * returns {stale, errors, reads}.
 */
export async function writeReadPairs(k, { clients = 16, pairs, prefix = 'ryw', deadline = Infinity, onError, pad = 0 }) {
    let stale = 0, errors = 0, reads = 0;
    await Promise.all(Array.from({ length: clients }, async (_, c) => {
        const cl = client(k);
        try {
            for (let i = 0; i < pairs && Date.now() < deadline; i++) {
                const key = `${prefix}:${c}`, value = `${c}-${i}${'.'.repeat(pad)}`;
                const w = await cl.send(['SET', key, value]);
                if (w.status !== 200) {
                    errors++;
                    onError?.(w);
                    continue;
                }
                const r = await cl.send(['GET', key]);
                reads++;
                if (r.status !== 200) {
                    errors++;
                    onError?.(r);
                } else if (JSON.parse(r.body).result !== value) {
                    stale++;
                }
            }
        } finally {
            cl.close();
        }
    }));
    return { stale, errors, reads };
}

