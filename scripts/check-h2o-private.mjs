#!/usr/bin/env node
// Fails when a C file other than proxy/h2o_private.[ch] touches a private field of an h2o type: a member whose
// name starts with '_' in the installed h2o headers (h2o.h, h2o/*.h, h2o/socket/*.h), written after `->` or `.`.
// Such uses belong in proxy/h2o_private.h, which names the h2o version they were read from (ctest lint.h2o_private).
//
//   node scripts/check-h2o-private.mjs [SOURCE_DIR] [H2O_INCLUDE_DIR]      (defaults: this repository, /usr/include)
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..');
const include = process.argv[3] ?? '/usr/include';
const ALLOWED = new Set(['proxy/h2o_private.h', 'proxy/h2o_private.c']);
const SCANNED_DIRS = ['proxy', 'handlers', 'conf', 'tests'];

// comments and string/char literals become spaces (newlines kept, so line numbers stay right)
function stripC(text) {
    return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, (m) => m.replace(/[^\n]/g, ' '));
}

function cFiles(dir, out = []) {
    if (!existsSync(dir))
        return out;
    for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory())
            cFiles(p, out);
        else if (/\.[ch]$/.test(name))
            out.push(p);
    }
    return out;
}

const headers = [join(include, 'h2o.h'), ...cFiles(join(include, 'h2o'))];
if (!existsSync(headers[0])) {
    console.error(`check-h2o-private: ${headers[0]} not found (pass the h2o include directory)`);
    process.exit(2);
}
// members such as `h2o_linklist_t _timeouts;`, `} _cb;`, `struct x *_peername;`, `uint8_t _flag : 1;`, `char _buf[1];`
const privateNames = new Set();
for (const h of headers)
    for (const m of stripC(readFileSync(h, 'utf8')).matchAll(/[\s*}](_[A-Za-z][A-Za-z0-9_]*)\s*(?:\[[^\]]*\])?\s*(?::\s*\d+)?\s*;/g))
        privateNames.add(m[1]);
if (privateNames.size < 10) {
    console.error(`check-h2o-private: found only ${privateNames.size} private members in ${include}: wrong directory?`);
    process.exit(2);
}

const found = [];
for (const dir of SCANNED_DIRS) {
    for (const file of cFiles(join(root, dir))) {
        const rel = relative(root, file);
        if (ALLOWED.has(rel) || rel.includes('/build'))
            continue;
        stripC(readFileSync(file, 'utf8')).split('\n').forEach((line, i) => {
            for (const m of line.matchAll(/(->|\.)\s*(_[A-Za-z][A-Za-z0-9_]*)\b/g))
                if (privateNames.has(m[2]))
                    found.push(`${rel}:${i + 1}: h2o private field ${m[2]}`);
            // a member named as a macro argument: H2O_STRUCT_FROM_MEMBER(h2o_timeout_t, _link, node), offsetof(t, a._b)
            for (const m of line.matchAll(/(?:H2O_STRUCT_FROM_MEMBER|offsetof)\s*\([^,]*,\s*([A-Za-z_][\w.]*)/g))
                for (const part of m[1].split('.'))
                    if (privateNames.has(part))
                        found.push(`${rel}:${i + 1}: h2o private field ${part}`);
        });
    }
}
if (found.length !== 0) {
    console.error(found.join('\n'));
    console.error(`check-h2o-private: ${found.length} use(s) of h2o's private fields outside proxy/h2o_private.[ch]; ` +
                  'wrap each there, with the h2o source it relies on');
    process.exit(1);
}
console.log(`check-h2o-private: ok (${privateNames.size} private h2o members; none used outside proxy/h2o_private.[ch])`);
