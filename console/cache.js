// Cache page: look a URL up (api/cache/lookup: its route, key, variants, heads, ages, TTLs, tags, sizes), fetch it
// from this page to see its Cache-Status, purge a URL / tag / route (api/cache/purge, soft or hard), and the cached
// routes' hit ratio (from api/overview). Every value from the server or the store is shown as text (kve.el).
'use strict';
(() => {
    const { $, api, el } = kve;
    const MAX_URL = 8192; // the server's limit (KVE_CACHE_PURGE_MAX_URL): checked here first for a clear message
    let looked = null; // the absolute URL of the last lookup (what "Purge this URL" purges)

    // a path on this host or an absolute URL, as the absolute URL the server takes
    function absolute(input) {
        const s = input.trim();
        if (s.length === 0) throw new Error('enter a URL, or a path on this host');
        if (new TextEncoder().encode(s).length > MAX_URL) throw new Error(`the URL is longer than ${MAX_URL} bytes`);
        return s.startsWith('/') ? location.origin + s : s;
    }

    // application/x-www-form-urlencoded with %20 for spaces (the purge's parser keeps '+' as '+')
    const formBody = (o) => Object.entries(o).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');

    function message(id, text, className) {
        $(id).replaceChildren(el('span', { className: className || '' }, text));
    }

    const seconds = (s) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`);

    function row(name, value) {
        return el('tr', null, el('th', null, name), el('td', null, value));
    }

    function renderObject(o, requestVariant) {
        const mine = o.variant && o.variant === requestVariant ? ' (the variant this browser gets)' : '';
        const title = o.variant ? `Variant ${o.variant}${mine}` : "The URL's object (no variant)";
        if (o.too_large) return el('div', { className: 'cache-object' }, el('h4', null, title), el('p', null, 'head record too large to show'));
        const freshness = o.stale ? el('span', { className: 'cache-stale' }, `stale for ${seconds(o.age - o.lifetime)}`)
            : `fresh for ${seconds(o.fresh_for)}`;
        const tags = el('td', null);
        for (const t of o.tags) tags.append(el('span', { className: 'cache-tag' }, t));
        if (o.tags.length === 0) tags.append('none');
        const info = el('table', null,
            row('status', o.status),
            row('stored at', new Date(o.stored_at * 1000).toISOString()),
            row('age', seconds(o.age)),
            row('freshness', freshness),
            row('stale-while-revalidate window left', seconds(o.stale_while_revalidate_left)),
            row('stale-if-error window left', seconds(o.stale_if_error_left)),
            row('in the store for', o.store_ttl_ms >= 0 ? seconds(Math.round(o.store_ttl_ms / 1000)) : 'no TTL'),
            row('size', `${o.stored_bytes} bytes (head ${o.head_bytes}, body ${o.body_bytes}${o.body_stored ? '' : ', body missing'})`),
            el('tr', null, el('th', null, 'tags'), tags));
        const headers = el('table', { className: 'cache-headers' });
        for (const [n, v] of o.headers) headers.append(el('tr', null, el('td', null, n), el('td', null, v)));
        return el('div', { className: 'cache-object' }, el('h4', null, title), info, el('h5', null, 'stored header fields'), headers);
    }

    function renderLookup(r) {
        const out = $('cache-result');
        out.replaceChildren();
        const summary = el('table', null, row('route', r.route), row('cached', r.cached ? 'yes' : 'not cached'));
        if (!r.route_caches) {
            summary.append(row('route caches', 'no (the route does not cache)'));
            out.append(summary);
            return;
        }
        summary.append(row('store', r.store), row('key', r.key.name), row('Vary', r.vary ?? 'none'));
        const fields = el('table', { className: 'cache-headers' });
        for (const [n, v] of r.key.fields) fields.append(el('tr', null, el('td', null, n), el('td', null, v)));
        out.append(summary, el('h4', null, 'key fields'), fields);
        if (!r.cached) out.append(el('p', { className: 'cache-miss', id: 'cache-not-cached' }, 'not cached: the store holds nothing for this URL'));
        if (r.variants_truncated || r.objects_truncated) out.append(el('p', null, 'more variants are stored than shown'));
        for (const o of r.objects) out.append(renderObject(o, r.request_variant));
    }

    async function lookup() {
        const url = absolute($('cache-url').value);
        const r = await api('GET', `api/cache/lookup?url=${encodeURIComponent(url)}`);
        looked = url;
        $('cache-purge-url').disabled = $('cache-soft-url').disabled = !r.route_caches;
        message('cache-message', r.cached ? `${r.objects.length} stored object(s)` : 'not cached');
        renderLookup(r);
    }

    // fetches the URL from this page (same origin only: the console's CSP has connect-src 'self'), without credentials,
    // and shows what a client gets: the status, Cache-Status and Age
    async function testFetch() {
        const u = new URL(absolute($('cache-url').value));
        const out = $('cache-fetch-result');
        if (u.origin !== location.origin) {
            out.replaceChildren(el('p', null, `test fetch: only URLs of ${location.origin} (the console may fetch nothing else)`));
            return;
        }
        // no-store keeps the browser's own cache out of it, but would add Cache-Control: no-cache (Fetch standard), which
        // makes kvedge revalidate: a Cache-Control of our own that asks nothing (no-transform) is sent instead
        const res = await fetch(u.pathname + u.search, {
            cache: 'no-store', credentials: 'omit', redirect: 'manual', headers: { 'Cache-Control': 'no-transform' },
        });
        await res.body?.cancel();
        const status = res.type === 'opaqueredirect' ? 'a redirect' : String(res.status);
        out.replaceChildren(el('table', { id: 'cache-fetch-table' },
            row('test fetch', `${u.pathname}${u.search}`),
            row('status', status),
            el('tr', null, el('th', null, 'Cache-Status'), el('td', { id: 'cache-fetch-status' }, res.headers.get('cache-status') ?? '(none)')),
            row('Age', res.headers.get('age') ?? '(none)')));
    }

    async function purge(params, what) {
        const r = await api('POST', 'api/cache/purge', formBody(params), 'application/x-www-form-urlencoded');
        message('cache-purge-result', `${r.soft ? 'soft purge' : 'purge'} of ${what}: ${r.purged} object(s)`);
        if (looked) await lookup();
    }

    async function routes() {
        const o = await api('GET', 'api/overview');
        const tbody = $('cache-routes').tBodies[0];
        const select = $('cache-route');
        const chosen = select.value;
        tbody.replaceChildren();
        select.replaceChildren();
        for (const r of o.routes.filter((x) => x.cache && x.name.startsWith('proxy:'))) {
            const path = r.name.slice('proxy:'.length);
            const c = r.cache;
            const looked = c.hits + c.stale + c.misses;
            const ratio = looked ? `${(((c.hits + c.stale) / looked) * 100).toFixed(1)} %` : '';
            tbody.append(el('tr', null, ...[path, c.hits, c.stale, c.misses, ratio, c.stored_bytes].map((v) => el('td', null, v))));
            select.append(el('option', { value: path, selected: path === chosen }, path));
        }
    }

    // a handler's error shown on the page (a lost session reloads it)
    const guard = (fn, id) => async (ev) => {
        ev?.preventDefault();
        try {
            await fn();
        } catch (e) {
            if (e.message === 'login') kve.fail(e);
            else message(id, e.message, 'cache-miss');
        }
    };

    document.addEventListener('DOMContentLoaded', () => {
        $('cache-lookup-form').addEventListener('submit', guard(lookup, 'cache-message'));
        $('cache-fetch').addEventListener('click', guard(testFetch, 'cache-message'));
        $('cache-purge-url').addEventListener('click', guard(() => purge({ url: looked }, looked), 'cache-purge-result'));
        $('cache-soft-url').addEventListener('click', guard(() => purge({ url: looked, soft: '1' }, looked), 'cache-purge-result'));
        $('cache-tag-form').addEventListener('submit', guard(async () => {
            const tag = $('cache-tag').value;
            await purge({ tag, ...($('cache-tag-soft').checked ? { soft: '1' } : {}) }, `tag ${tag}`);
        }, 'cache-purge-result'));
        $('cache-route-form').addEventListener('submit', guard(async () => {
            const route = $('cache-route').value;
            const soft = $('cache-route-soft').checked;
            if (!route || !window.confirm(`${soft ? 'Soft purge' : 'Purge'} every object of route ${route}?`)) return;
            await purge({ route, ...(soft ? { soft: '1' } : {}) }, `route ${route}`);
            await routes();
        }, 'cache-purge-result'));
    });

    kve.page('cache', {
        title: 'Cache',
        async show() {
            await routes();
        },
    });
})();
