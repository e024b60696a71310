// Overview page: the routes' traffic and cache, the store links (polls api/overview every 2 s while shown).
'use strict';
(() => {
    const { $, api, el } = kve;
    let previous = null; // the last overview, for requests per second
    let timer = null;

    async function refresh() {
        const o = await api('GET', 'api/overview');
        const tbody = $('routes').tBodies[0];
        tbody.replaceChildren();
        for (const r of o.routes) {
            const before = previous?.routes.find((p) => p.name === r.name);
            const rate = before && o.now > previous.now ? ((r.requests - before.requests) / (o.now - previous.now)).toFixed(1) : '';
            const row = el('tr');
            for (const v of [r.name, r.requests, rate, r.status['2xx'], r.status['4xx'], r.status['5xx'], r.p50_ms, r.p99_ms,
                r.cache ? r.cache.hits : '', r.cache ? r.cache.misses : '', r.cache ? r.cache.stored_bytes : ''])
                row.append(el('td', null, v ?? ''));
            tbody.append(row);
        }
        const ul = $('stores');
        ul.replaceChildren();
        for (const s of o.stores)
            for (const l of s.links)
                ul.append(el('li', { className: l.state === 'up' ? '' : 'down' }, `${s.name} thread ${l.thread}: ${l.state}`));
        previous = o;
    }

    kve.page('overview', {
        title: 'Overview',
        async show() {
            await refresh();
            clearInterval(timer);
            timer = setInterval(() => refresh().catch(kve.fail), 2000);
        },
        hide() {
            clearInterval(timer);
            timer = null;
        },
    });
})();
