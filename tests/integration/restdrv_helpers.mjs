// Helpers of the KV REST driver's tests (issue 9): kvedge B serving /kv on a real redis-server, kvedge A whose
// store is a KV REST store pointing at B's /kv (or at any upstream the test gives).
import { startKvStack, kvConfig, RW_TOKEN } from './kv_helpers.mjs';
import { startKvedge } from './harness.mjs';

export { RW_TOKEN };

/** kvedge A: the KV API at /kv (tokens of kv_helpers) served from the REST store `url` with `token`. */
export async function startEdge(url, { token = RW_TOKEN, store = {}, kv = {}, extra = {}, opts = {} } = {}) {
    const cfg = kvConfig(undefined, kv, extra);
    delete cfg.redis;
    cfg.stores = { central: { url, token, command_timeout: '2s', connect_timeout: '1s', reconnect_max_delay: '200ms', ...store } };
    cfg.kv.store = 'central';
    const k = await startKvedge(cfg, opts);
    return { k, url: `${k.url}/kv` };
}

/** kvedge B on a real redis-server, and kvedge A in front of it. */
export async function startPair(opts = {}) {
    const b = await startKvStack(opts.b ?? {});
    let a;
    try {
        a = await startEdge(b.url, opts.a ?? {});
    } catch (e) {
        await b.stop();
        throw e;
    }
    return {
        a,
        b,
        async stop() {
            const ra = await a.k.stop();
            await b.stop();
            return ra;
        },
    };
}
