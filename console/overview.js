// Overview page: the traffic of the last minutes as small graphs (api/history: samples the server keeps, so the graphs are
// full when the page opens), the routes' requests, latency, statuses and cache, the session routes' events and the
// store links (api/overview), the sessions active (api/sessions, the sessions page's count). Polls them every 2 s while
// shown. Graphs are inline SVG built with DOM calls: no library, no style attribute (the CSP's style-src 'self'); their
// colours come from app.css.
'use strict';
(() => {
    const { $, api, el } = kve;
    const SVG = 'http://www.w3.org/2000/svg';
    const WIDTH = 180;
    const HEIGHT = 48;
    const POLL_MS = 2000;

    // the graphs: [id, label, value of a history point, format, the least top of the y axis]
    const GRAPHS = [
        ['rps', 'requests/s', (p) => p.rps, (v) => v.toFixed(1), 1],
        ['p99', 'latency p99', (p) => p.p99_ms, (v) => `${v.toFixed(1)} ms`, 1],
        ['hit', 'cache hit ratio', (p) => p.hit_ratio, (v) => `${(v * 100).toFixed(0)} %`, 1],
        ['err', '5xx/s', (p) => p.rps_5xx, (v) => v.toFixed(1), 1],
        ['ses', 'session requests/s', (p) => p.sessions_loaded_s, (v) => v.toFixed(1), 1],
    ];

    let history = { interval_ms: POLL_MS, capacity: 300, last: 0, points: [] };
    let previous = null; // the last overview, for each route's requests per second
    let timer = null;

    const bytes = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
    const ms = (v) => (v === null || v === undefined ? '' : v.toFixed(1));
    const ratio = (c) => {
        const lookups = c.hits + c.stale + c.misses + c.bypass;
        return lookups ? `${(((c.hits + c.stale) / lookups) * 100).toFixed(0)} %` : '';
    };

    function svgEl(tag, attrs) {
        const e = document.createElementNS(SVG, tag);
        for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
        return e;
    }

    // the path of `values` ({t, v}) over the last `span` s before `end`: a gap (no sample, or no value) breaks the line
    // the path of `values` ({t, v}) over the last `span` s before `end` in a w x h box: a gap (no sample, or no value)
    // breaks the line
    function linePath(values, { end, span, top, w, h }) {
        const gapS = (3 * history.interval_ms) / 1000;
        let d = '';
        let last = null;
        for (const { t, v } of values) {
            if (v === null || v === undefined || t < end - span) {
                last = null;
                continue;
            }
            const x = (((t - (end - span)) / span) * w).toFixed(1);
            const y = (h - 2 - (Math.min(v, top) / top) * (h - 4)).toFixed(1);
            d += `${last === null || t - last > gapS ? 'M' : 'L'}${x},${y} `;
            last = t;
        }
        return d.trim();
    }

    // the seconds the graphs span: the history held (a young process has less than 10 minutes), at least 20 s
    function graphSpan() {
        const full = (history.capacity * history.interval_ms) / 1000;
        const p = history.points;
        return p.length ? Math.min(full, Math.max(20, p[p.length - 1].t - p[0].t + history.interval_ms / 1000)) : full;
    }

    /**
     * A sparkline of `value` (a history point -> number or null) over the history: an SVG of w x h with the class
     * `cls`, and data-points / data-max (what the tests read). Returns {svg, present (the values there), span}.
     */
    function sparkline(value, { w, h, cls, label, least, headroom }) {
        const span = graphSpan();
        const values = history.points.map((p) => ({ t: p.t, v: value(p) }));
        const present = values.filter((x) => x.v !== null && x.v !== undefined);
        const max = present.length ? Math.max(...present.map((x) => x.v)) : 0;
        const end = history.points.length ? history.points[history.points.length - 1].t : Date.now() / 1000;
        const svg = svgEl('svg', { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: 'img',
            'aria-label': `${label}, last ${Math.round(span)} s`, class: cls });
        svg.append(svgEl('line', { x1: 0, y1: h - 1, x2: w, y2: h - 1, class: 'axis' }));
        const d = linePath(values, { end, span, top: Math.max(least, max) * headroom, w, h });
        if (d) svg.append(svgEl('path', { d, class: 'line' }));
        svg.dataset.points = String(present.length);
        svg.dataset.max = String(max);
        return { svg, present, max, span };
    }

    function drawGraph([id, label, value, format, least]) {
        const { svg, present, max, span } = sparkline(value, { w: WIDTH, h: HEIGHT, cls: `spark spark-${id}`, label, least,
            headroom: id === 'hit' ? 1 : 1.1 });
        const now = present.length ? present[present.length - 1].v : null;
        $(`ov-${id}`).replaceChildren(
            el('div', { className: 'label' }, label),
            el('div', { className: 'value' }, now === null ? '–' : format(now)),
            svg,
            el('div', { className: 'scale' },
                `max ${present.length ? format(max) : '–'}, last ${span >= 120 ? `${Math.round(span / 60)} min` : `${Math.round(span)} s`}`));
    }

    // the requests/s of route `name` over the history, as a small sparkline for its table row
    function routeSpark(name) {
        const i = (history.routes ?? []).indexOf(name);
        return sparkline((p) => (i < 0 ? null : p.route_rps?.[i]), { w: 90, h: 18, cls: 'spark spark-route', label: `${name} requests/s`,
            least: 1, headroom: 1.1 }).svg;
    }

    async function refreshHistory() {
        const h = await api('GET', `api/history?after=${history.last}`);
        if (h.last < history.last) history.points = []; // a new process: its sequence starts again
        const end = h.points.length ? h.points[h.points.length - 1].t : 0;
        const span = (h.capacity * h.interval_ms) / 1000;
        history = { ...h, points: history.points.concat(h.points).filter((p) => p.t > end - span) };
        for (const g of GRAPHS) drawGraph(g);
    }

    function routeRow(r, now) {
        const before = previous?.routes.find((p) => p.name === r.name);
        const rate = before && now > previous.now ? ((r.requests - before.requests) / (now - previous.now)).toFixed(1) : '';
        const c = r.cache;
        const row = el('tr');
        for (const v of [r.name, r.requests, rate, routeSpark(r.name), r.status['2xx'], r.status['3xx'], r.status['4xx'], r.status['5xx'],
            ms(r.p50_ms), ms(r.p99_ms), c ? ratio(c) : '', c ? c.hits : '', c ? c.misses : '', c ? bytes(c.stored_bytes) : ''])
            row.append(el('td', null, v ?? ''));
        return row;
    }

    function drawOverview(o) {
        $('ov-facts').textContent = `kvedge ${o.version}, up ${Math.round((o.now - o.start_time) / 60)} min, ` +
            `${o.connections} connections, ${o.open_streams} open requests, ${o.console_sessions} console sessions`;
        $('routes').tBodies[0].replaceChildren(...o.routes.map((r) => routeRow(r, o.now)));
        const sessions = o.sessions ?? [];
        $('ov-sessions').hidden = sessions.length === 0;
        $('ov-sessions').tBodies[0].replaceChildren(...sessions.map((s) => el('tr', null,
            ...[s.route, s.created, s.loaded, s.rotated, s.expired, s.destroyed, s.refused, s.unavailable].map((v) => el('td', null, v)))));
        const links = [];
        for (const s of o.stores)
            for (const l of s.links)
                links.push(el('tr', { className: l.state === 'up' ? 'up' : 'down' }, ...[s.name, l.thread, l.state, l.inflight, l.commands,
                    l.failures].map((v) => el('td', null, v))));
        $('stores').tBodies[0].replaceChildren(...links);
        previous = o;
    }

    // sessions active: the distinct sessions that made a request in the window (api/sessions, the sessions page's
    // count: no store access), summed over the groups of session routes
    function drawActive(s) {
        const groups = s?.groups ?? [];
        if (!groups.length) {
            $('ov-active').textContent = s ? 'No session route.' : '';
            return;
        }
        const sum = (k) => groups.reduce((n, g) => n + (g.active?.[k] ?? 0), 0);
        const mins = Math.round((groups[0].active?.window_s ?? 300) / 60);
        $('ov-active').textContent = `Sessions active (distinct, last ${mins} min): ${sum('logged_in')} logged in, ${sum('anonymous')} anonymous`;
    }

    async function refresh() {
        const [o, s] = await Promise.all([api('GET', 'api/overview'), api('GET', 'api/sessions').catch(() => null), refreshHistory()]);
        drawOverview(o);
        drawActive(s);
    }

    kve.page('overview', {
        title: 'Overview',
        async show() {
            await refresh();
            clearInterval(timer);
            timer = setInterval(() => refresh().catch(kve.fail), POLL_MS);
        },
        hide() {
            clearInterval(timer);
            timer = null;
        },
    });
})();
