#!/usr/bin/env node
// Generates proxy/kv_commands.def from the COMMAND table of the installed redis-server, so kvedge knows
// every command's arity, flags, ACL categories, key positions and key specs (Redis 7's begin_search /
// find_keys, which describe movable keys such as EVAL numkeys and XREAD ... STREAMS) exactly as Redis
// defines them. Run it after upgrading Redis:  node scripts/gen-kv-commands.mjs
// (it starts a private redis-server on a free 127.0.0.1 port and stops it by PID).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'proxy/kv_commands.def');

const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
    });
});
const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
});
for (let i = 0; ; i++) {
    const up = await new Promise((ok) => net.connect(port, '127.0.0.1').once('connect', function () {
        this.destroy();
        ok(true);
    }).once('error', () => ok(false)));
    if (up) break;
    if (i === 100) throw new Error('redis-server did not start');
    await new Promise((ok) => setTimeout(ok, 50));
}
const client = new Redis({ port, host: '127.0.0.1' });

// the most key specs kvedge's finder keeps per command (KVE_CMD_MAX_KEY_RANGES in proxy/kv_commands.h)
const MAX_KEY_SPECS = 4;
const KEY_FLAGS = {
    RO: 'KVE_KEYF_RO',
    RW: 'KVE_KEYF_RW',
    OW: 'KVE_KEYF_OW',
    RM: 'KVE_KEYF_RM',
    access: 'KVE_KEYF_ACCESS',
    update: 'KVE_KEYF_UPDATE',
    insert: 'KVE_KEYF_INSERT',
    delete: 'KVE_KEYF_DELETE',
    not_key: 'KVE_KEYF_NOT_KEY',
    incomplete: 'KVE_KEYF_INCOMPLETE',
    variable_flags: 'KVE_KEYF_VARIABLE_FLAGS',
};
// RESP maps come as flat [name, value, ...] arrays
const asObject = (flat) => {
    const o = {};
    for (let i = 0; i + 1 < flat.length; i += 2) o[flat[i]] = flat[i + 1];
    return o;
};
// one key spec as the designated initializers of a kve_cmd_keyspec_t
const keySpec = (name, flat) => {
    const k = asObject(flat);
    const bs = asObject(k.begin_search);
    const fk = asObject(k.find_keys);
    const fields = [];
    const flags = k.flags.map((f) => {
        if (!KEY_FLAGS[f]) throw new Error(`${name}: unknown key spec flag ${f}`);
        return KEY_FLAGS[f];
    });
    fields.push(`.flags = ${flags.length ? flags.join(' | ') : '0'}`);
    const bsSpec = asObject(bs.spec ?? []);
    if (bs.type === 'index') fields.push('.begin_search = KVE_KS_INDEX', `.pos = ${bsSpec.index}`);
    else if (bs.type === 'keyword') {
        if (!/^[A-Z]+$/.test(bsSpec.keyword)) throw new Error(`${name}: keyword ${bsSpec.keyword}`);
        fields.push('.begin_search = KVE_KS_KEYWORD', `.keyword = "${bsSpec.keyword}"`, `.pos = ${bsSpec.startfrom}`);
    } else if (bs.type === 'unknown') fields.push('.begin_search = KVE_KS_UNKNOWN');
    else throw new Error(`${name}: begin_search type ${bs.type}`);
    const fkSpec = asObject(fk.spec ?? []);
    if (fk.type === 'range') {
        if (fkSpec.keystep < 1 || (fkSpec.limit !== 0 && fkSpec.lastkey !== -1)) throw new Error(`${name}: range ${fk.spec}`);
        fields.push('.find_keys = KVE_KS_RANGE', `.lastkey = ${fkSpec.lastkey}`, `.keystep = ${fkSpec.keystep}`, `.limit = ${fkSpec.limit}`);
    } else if (fk.type === 'keynum') {
        if (fkSpec.keystep < 1) throw new Error(`${name}: keynum ${fk.spec}`);
        fields.push('.find_keys = KVE_KS_KEYNUM', `.keynumidx = ${fkSpec.keynumidx}`, `.firstkey = ${fkSpec.firstkey}`, `.keystep = ${fkSpec.keystep}`);
    } else if (fk.type === 'unknown') fields.push('.find_keys = KVE_KS_UNKNOWN');
    else throw new Error(`${name}: find_keys type ${fk.type}`);
    return fields.join(', ');
};
try {
    const version = /redis_version:(\S+)/.exec(await client.info('server'))[1];
    const rows = [];
    const specs = [];
    const add = (c, name) => {
        const [, arity, flags, first, last, step, cats, , keySpecs, subs] = c;
        const f = new Set(flags);
        const cat = new Set(cats);
        const bits = [];
        if (f.has('readonly')) bits.push('KVE_CMDF_READONLY');
        if (f.has('write')) bits.push('KVE_CMDF_WRITE');
        if (f.has('may_replicate')) bits.push('KVE_CMDF_MAY_REPLICATE');
        if (f.has('blocking') || cat.has('@blocking')) bits.push('KVE_CMDF_BLOCKING');
        if (f.has('admin')) bits.push('KVE_CMDF_ADMIN');
        if (f.has('pubsub')) bits.push('KVE_CMDF_PUBSUB');
        if (f.has('noscript')) bits.push('KVE_CMDF_NOSCRIPT');
        if (f.has('movablekeys')) bits.push('KVE_CMDF_MOVABLEKEYS');
        if (cat.has('@read')) bits.push('KVE_CMDF_CAT_READ');
        if (cat.has('@write')) bits.push('KVE_CMDF_CAT_WRITE');
        if (cat.has('@dangerous')) bits.push('KVE_CMDF_CAT_DANGEROUS');
        if (cat.has('@connection')) bits.push('KVE_CMDF_CAT_CONNECTION');
        if (cat.has('@scripting')) bits.push('KVE_CMDF_CAT_SCRIPTING');
        if (subs && subs.length) bits.push('KVE_CMDF_CONTAINER');
        const own = (keySpecs ?? []).map((k) => keySpec(name, k));
        if (own.length > MAX_KEY_SPECS) throw new Error(`${name}: ${own.length} key specs, kvedge handles ${MAX_KEY_SPECS}`);
        rows.push({ name, arity, first, last, step, bits: bits.length ? bits.join(' | ') : '0', specs: own });
        for (const s of subs ?? []) add(s, s[0]);
    };
    for (const c of await client.call('COMMAND')) add(c, c[0]);
    rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const lines = rows.map((r) => {
        const at = specs.length;
        specs.push(...r.specs);
        return `KVE_CMD("${r.name}", ${r.arity}, ${r.first}, ${r.last}, ${r.step}, ${r.bits}, ${at}, ${r.specs.length})`;
    });
    fs.writeFileSync(out, `/* Generated by scripts/gen-kv-commands.mjs from the COMMAND table of redis-server ${version}. Do not edit.
 * KVE_CMD(name, arity, first key, last key, key step, flags, first key spec, key specs): sorted by name (byte
 * order); subcommands are "container|sub". A negative arity means "at least". The command's key specs are
 * the KVE_KEYSPEC rows from index "first key spec" on (kve_cmd_keyspec_t's fields, in Redis' order). */
${lines.join('\n')}
${specs.map((k) => `KVE_KEYSPEC(${k})`).join('\n')}
`);
    console.log(`wrote ${path.relative(root, out)}: ${rows.length} commands from redis ${version}`);
} finally {
    client.disconnect();
    server.kill('SIGTERM');
}
