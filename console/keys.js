// Keys page: browse a store with SCAN (a pattern, cursor paging; never KEYS), each key's type and TTL; open a key for a
// paged, type-aware view; edit, create, change the TTL of and delete keys (read-write sessions only). Every key, value,
// field and member travels as bytes: the API takes %XX-encoded form fields and answers a byte string as a JSON string
// (valid UTF-8) or {"text"|"base64", "length", "truncated"} (docs/console.md, Keys). Bytes that are not UTF-8 are shown
// as hex (each byte readable, spaced), never as HTML: every value goes into a text node.
'use strict';
(() => {
    const { $, api, el } = kve;
    const enc = new TextEncoder();
    const st = { store: '', cursor: null, view: null, limits: null, loaded: false, wired: false };

    // --- bytes ---

    // an API byte string -> {bytes, text (null: not UTF-8), truncated, length}
    function bytesOf(v) {
        if (typeof v === 'string') return { bytes: enc.encode(v), text: v, truncated: false, length: enc.encode(v).length };
        if (v.base64 !== undefined) {
            const bin = atob(v.base64);
            return { bytes: Uint8Array.from(bin, (c) => c.charCodeAt(0)), text: null, truncated: v.truncated, length: v.length };
        }
        return { bytes: enc.encode(v.text), text: v.text, truncated: v.truncated, length: v.length };
    }
    const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const pct = (bytes) => Array.from(bytes, (b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    function hexToBytes(s) {
        const clean = s.replace(/\s+/g, '');
        if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error('hex: pairs of 0-9 a-f');
        return Uint8Array.from(clean.match(/../g) || [], (h) => parseInt(h, 16));
    }

    // a byte string for display: text as is, or hex with a marker; a note when truncated
    function show(v, cls) {
        const b = bytesOf(v);
        const span = el('span', { className: cls || 'kv-bytes' });
        if (b.text === null) span.append(el('span', { className: 'kv-tag', title: 'not valid UTF-8: shown as hex bytes' }, 'hex'), ' ', hex(b.bytes));
        else span.append(b.text);
        if (b.truncated) span.append(el('span', { className: 'kv-tag' }, ` … ${b.bytes.length} of ${b.length} bytes shown`));
        return span;
    }

    // a form body from {name: bytes | string}
    function form(fields) {
        return Object.entries(fields)
            .filter(([, v]) => v !== undefined && v !== null)
            .map(([k, v]) => `${encodeURIComponent(k)}=${pct(typeof v === 'string' ? enc.encode(v) : v)}`)
            .join('&');
    }

    // a text field that gives bytes: text (UTF-8) or hex (for values that are not UTF-8)
    function valueInput(initial, opts = {}) {
        const b = initial === undefined ? null : bytesOf(initial);
        const binary = b !== null && b.text === null;
        const input = el(opts.multiline ? 'textarea' : 'input', { className: 'kv-input', placeholder: opts.placeholder || '' });
        if (opts.multiline) input.rows = 3;
        input.value = b === null ? '' : binary ? hex(b.bytes) : b.text;
        const asHex = el('input', { type: 'checkbox', checked: binary, title: 'the bytes as hex pairs' });
        const node = el('span', { className: 'kv-value-input' }, input, el('label', null, asHex, 'hex'));
        return { node, input, bytes: () => (asHex.checked ? hexToBytes(input.value) : enc.encode(input.value)) };
    }

    function button(text, onclick, cls) {
        const b = el('button', { type: 'button', className: cls || '' }, text);
        b.addEventListener('click', () => onclick().catch(error));
        return b;
    }

    function error(e) {
        if (e.message === 'login') return kve.fail(e);
        const p = $('keys-error');
        p.textContent = e.message;
        p.hidden = false;
    }
    const clearError = () => { $('keys-error').hidden = true; };
    const writable = () => !kve.state.readOnly;

    function ttlText(ms) {
        if (ms === -1) return 'none';
        if (ms < 0) return '';
        return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
    }

    // --- the list ---

    async function loadStores() {
        const s = await api('GET', 'api/kv/stores');
        st.limits = s.limits;
        const sel = $('keys-store');
        sel.replaceChildren(...s.stores.map((x) => el('option', { value: x.name, selected: x.name === s.default }, x.kv ? `${x.name} (KV API)` : x.name)));
        $('keys-store-label').hidden = s.stores.length < 2;
        st.store = s.default || '';
        st.loaded = true;
    }

    async function scan(more) {
        clearError();
        if (!more) $('keys-count').textContent = 'scanning…'; /* the last scan's count is not this one's */
        const q = form({ store: st.store, pattern: $('keys-pattern').value || '*', type: $('keys-type').value || undefined, cursor: more ? st.cursor : '0', count: '100' });
        const r = await api('GET', `api/kv/keys?${q}`);
        const tbody = $('keys-list').tBodies[0];
        if (!more) tbody.replaceChildren();
        for (const k of r.keys) {
            // a key name longer than the API takes (max_key) is shown cut, and cannot be opened by its prefix
            const open = bytesOf(k.key).truncated ? el('span', { title: 'key name too long to open here' }, show(k.key))
                : el('a', { href: '#keys', className: 'kv-key' }, show(k.key));
            open.addEventListener('click', (e) => {
                if (open.tagName !== 'A') return;
                e.preventDefault();
                openKey(bytesOf(k.key).bytes).catch(error);
            });
            tbody.append(el('tr', null, el('td', null, open), el('td', null, k.type), el('td', null, ttlText(k.ttl_ms))));
        }
        st.cursor = r.cursor;
        $('keys-more').hidden = r.cursor === null;
        $('keys-count').textContent = `${tbody.rows.length} keys${r.cursor === null ? '' : ' so far (more to scan)'}`;
    }

    // --- one key ---

    async function change(op, fields) {
        clearError();
        return api('POST', 'api/kv/change', form({ store: st.store, op, key: st.view.keyBytes, ...fields }), 'application/x-www-form-urlencoded');
    }

    async function openKey(keyBytes, cursor) {
        clearError();
        const r = await api('GET', `api/kv/key?${form({ store: st.store, key: keyBytes, cursor })}`);
        const more = cursor !== undefined;
        if (!more) st.view = { keyBytes, r };
        st.view.next = r.next ?? null;
        renderKey(r, more);
    }

    const reopen = () => openKey(st.view.keyBytes);

    function renderHead(r) {
        const head = $('keys-head');
        head.replaceChildren(el('h3', null, show(r.key)), el('p', null, `type ${r.type}, length ${r.length}, TTL ${ttlText(r.ttl_ms)}`));
        if (!writable()) return;
        const ttl = el('input', { type: 'number', min: '1', className: 'kv-ttl', placeholder: 'seconds' });
        const confirmBox = el('span', { className: 'kv-confirm', hidden: true }, `Delete this key? `,
            button('Yes, delete', async () => {
                await change('delete', { confirm: st.view.keyBytes });
                $('keys-view').hidden = true;
                await scan(false);
            }, 'danger kv-delete-yes'),
            button('Cancel', async () => { confirmBox.hidden = true; }, 'kv-delete-no'));
        head.append(el('p', { className: 'kv-edit' },
            'TTL ', ttl, ' s ',
            button('Set TTL', async () => {
                await change('expire', { ttl_ms: String(Math.round(Number(ttl.value) * 1000)) });
                await reopen();
            }, 'kv-set-ttl'),
            ' ', button('Persist', async () => { await change('persist', {}); await reopen(); }, 'kv-persist'),
            ' ', button('Delete…', async () => { confirmBox.hidden = false; }, 'danger kv-delete'), ' ', confirmBox));
    }

    // a row's cells; `edit` adds the row's editor (read-write only)
    function row(cells, edit) {
        const tr = el('tr', null, ...cells.map((c) => el('td', null, c)));
        if (writable() && edit) tr.append(el('td', { className: 'kv-edit' }, ...edit));
        return tr;
    }

    const editable = (v) => !bytesOf(v).truncated;

    function itemRows(r) {
        const t = r.type;
        if (t === 'hash') return r.items.map(([f, v]) => {
            const vi = valueInput(v);
            return row([show(f), show(v)], editable(f) && editable(v) ? [vi.node,
                button('Save', async () => { await change('hset', { field: bytesOf(f).bytes, value: vi.bytes() }); await reopen(); }, 'kv-save'),
                button('Delete', async () => { await change('hdel', { field: bytesOf(f).bytes }); await reopen(); }, 'kv-remove')] : null);
        });
        if (t === 'list') {
            const start = Number(r.cursor);
            return r.items.map((v, i) => {
                const vi = valueInput(v);
                return row([String(start + i), show(v)], editable(v) ? [vi.node,
                    button('Save', async () => { await change('lset', { index: String(start + i), value: vi.bytes() }); await reopen(); }, 'kv-save'),
                    button('Remove', async () => { await change('lrem', { value: bytesOf(v).bytes }); await reopen(); }, 'kv-remove')] : null);
            });
        }
        if (t === 'set') return r.items.map((m) => row([show(m)], editable(m) ? [
            button('Remove', async () => { await change('srem', { member: bytesOf(m).bytes }); await reopen(); }, 'kv-remove')] : null));
        if (t === 'zset') return r.items.map(([m, s]) => {
            const score = el('input', { className: 'kv-score', value: bytesOf(s).text });
            return row([show(m), bytesOf(s).text], editable(m) ? [score,
                button('Save', async () => { await change('zadd', { member: bytesOf(m).bytes, score: score.value }); await reopen(); }, 'kv-save'),
                button('Remove', async () => { await change('zrem', { member: bytesOf(m).bytes }); await reopen(); }, 'kv-remove')] : null);
        });
        if (t === 'stream') return r.items.map((e) => row([e.id, el('span', null, ...e.fields.flatMap(([f, v], i) => [i ? '; ' : '', show(f), ' = ', show(v)]))], [
            button('Delete', async () => { await change('xdel', { id: e.id }); await reopen(); }, 'kv-remove')]));
        return [];
    }

    // the form that adds to a collection (or sets a string)
    function addForm(r) {
        const t = r.type;
        if (t === 'string') {
            const vi = valueInput(editable(r.value) ? r.value : undefined, { multiline: true });
            return el('p', { className: 'kv-edit' }, vi.node, button('Save', async () => { await change('set', { value: vi.bytes() }); await reopen(); }, 'kv-save'));
        }
        const a = valueInput(undefined, { placeholder: t === 'hash' || t === 'stream' ? 'field' : t === 'list' ? 'value' : 'member' });
        const b = valueInput(undefined, { placeholder: 'value' });
        const score = el('input', { className: 'kv-score', placeholder: 'score' });
        const ops = {
            hash: () => change('hset', { field: a.bytes(), value: b.bytes() }),
            list: () => change('rpush', { value: a.bytes() }),
            set: () => change('sadd', { member: a.bytes() }),
            zset: () => change('zadd', { member: a.bytes(), score: score.value }),
            stream: () => change('xadd', { f0: a.bytes(), v0: b.bytes() }),
        };
        if (!ops[t]) return null;
        const parts = [a.node];
        if (t === 'hash' || t === 'stream') parts.push(b.node);
        if (t === 'zset') parts.push(score);
        return el('p', { className: 'kv-edit kv-add' }, 'Add: ', ...parts, button('Add', async () => { await ops[t](); await reopen(); }, 'kv-add-button'));
    }

    function renderKey(r, more) {
        $('keys-view').hidden = false;
        $('keys-view').dataset.renders = String((st.renders = (st.renders || 0) + 1)); // tests wait on it
        const body = $('keys-items');
        if (!more) {
            renderHead(r);
            body.replaceChildren();
            if (r.type === 'string') {
                body.append(el('pre', { className: 'kv-string' }, show(r.value)));
                if (!editable(r.value)) body.append(el('p', null, 'The value is truncated: not editable here.'));
            } else if (r.items) {
                const heads = { hash: ['field', 'value'], list: ['index', 'value'], set: ['member'], zset: ['member', 'score'], stream: ['id', 'fields'] }[r.type] || [];
                body.append(el('table', { id: 'keys-items-table' }, el('thead', null, el('tr', null, ...heads.map((h) => el('th', null, h)))), el('tbody')));
            }
            if (writable()) {
                const f = addForm(r);
                if (f) body.append(f);
            }
        }
        const table = $('keys-items-table');
        if (table && r.items) table.tBodies[0].append(...itemRows(r));
        $('keys-items-more').hidden = r.next === null || r.next === undefined;
    }

    // --- creating a key ---

    function createForm() {
        const type = el('select', { id: 'keys-new-type' }, ...['string', 'hash', 'list', 'set', 'zset', 'stream'].map((t) => el('option', { value: t }, t)));
        const key = valueInput(undefined, { placeholder: 'key' });
        const a = valueInput(undefined, { placeholder: 'field / member / value' });
        const b = valueInput(undefined, { placeholder: 'value' });
        const score = el('input', { className: 'kv-score', placeholder: 'score' });
        const go = button('Create', async () => {
            const t = type.value;
            const fields = { string: ['set', { value: a.bytes() }], hash: ['hset', { field: a.bytes(), value: b.bytes() }],
                list: ['rpush', { value: a.bytes() }], set: ['sadd', { member: a.bytes() }],
                zset: ['zadd', { member: a.bytes(), score: score.value }], stream: ['xadd', { f0: a.bytes(), v0: b.bytes() }] }[t];
            clearError();
            const keyBytes = key.bytes();
            await api('POST', 'api/kv/change', form({ store: st.store, op: fields[0], key: keyBytes, create: '1', ...fields[1] }), 'application/x-www-form-urlencoded');
            await scan(false);
            await openKey(keyBytes);
        }, 'kv-create');
        return el('div', { className: 'kv-edit', id: 'keys-new' }, el('h3', null, 'New key'), type, ' ', key.node, ' ', a.node, ' ', b.node, ' ', score, ' ', go);
    }

    kve.page('keys', {
        title: 'Keys',
        async show() {
            if (!st.wired) {
                st.wired = true;
                $('keys-search').addEventListener('submit', (e) => {
                    e.preventDefault();
                    scan(false).catch(error);
                });
                $('keys-store').addEventListener('change', () => {
                    st.store = $('keys-store').value;
                    $('keys-view').hidden = true;
                    scan(false).catch(error);
                });
                $('keys-more').addEventListener('click', () => scan(true).catch(error));
                $('keys-items-more').addEventListener('click', () => openKey(st.view.keyBytes, st.view.next).catch(error));
                if (writable()) $('keys-create-box').append(createForm());
            }
            if (!st.loaded) {
                try {
                    await loadStores();
                } catch (e) {
                    error(e);
                    return;
                }
            }
            await scan(false).catch(error);
        },
    });
})();
