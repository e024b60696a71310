#!/usr/bin/env node
// Fails when a kvedge source file other than proxy/h2o_private.[ch] touches a private member of an h2o type: a
// struct member whose name starts with '_' in the installed h2o headers (h2o.h, h2o/*.h, h2o/socket/*.h). Such uses
// belong in proxy/h2o_private.h, which names the h2o version and source they were read from (ctest lint.h2o_private).
//
// How: the compiler decides, not a regular expression (kvedge's own structs have '_' members too, e.g. mailbox.h's
// `_mutex`, which h2o also has). The installed headers are copied to a temporary directory with every private
// member marked __attribute__((deprecated("h2o private: ..."))); each translation unit of compile_commands.json is
// then compiled with -fsyntax-only and that directory first on the system include path. A use of a marked member
// outside h2o's own headers (which are system headers, so h2o's inline functions stay silent) is a deprecation
// warning naming the file and line; one in proxy/h2o_private.[ch] is allowed. A self-test first compiles a known use
// of sock->_cb.read through the same copy and requires the warning, so a copy that the includes bypass cannot pass.
// A line scan adds h2o's internal functions: no other file may define a function named h2o_* (interposing libh2o's
// symbol, as h2o_private.c does for h2o_socket_read_start) or use dlsym(RTLD_NEXT).
//
//   node scripts/check-h2o-private.mjs SOURCE_DIR COMPILE_COMMANDS_JSON [H2O_INCLUDE_DIR (default /usr/include)]
import { readFileSync, writeFileSync, readdirSync, statSync, existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { tmpdir, availableParallelism } from 'node:os';
import { spawn } from 'node:child_process';

const [root, ccJson, include = '/usr/include'] = process.argv.slice(2).map((p) => resolve(p));
if (root === undefined || ccJson === undefined || !existsSync(ccJson)) {
    console.error('usage: check-h2o-private.mjs SOURCE_DIR COMPILE_COMMANDS_JSON [H2O_INCLUDE_DIR]');
    process.exit(2);
}
const ALLOWED = new Set(['proxy/h2o_private.h', 'proxy/h2o_private.c']);
const MARK = 'h2o private: use proxy/h2o_private.h';

function headerFiles(dir, out = []) {
    for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory())
            headerFiles(p, out);
        else if (name.endsWith('.h'))
            out.push(p);
    }
    return out;
}

// comments become spaces of the same length, so offsets found in the stripped text are offsets in the original
function stripComments(text) {
    return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (m) => m.replace(/[^\n]/g, ' '));
}

// the copy: members of struct and union bodies such as `h2o_linklist_t _timeouts;`, `} _cb;`, `struct x *_peername;`,
// `unsigned _flag : 1;`, `char _buf[1];` get the attribute before their semicolon (not locals of h2o's inline functions)
const MEMBER = /[\s*}](_[A-Za-z][A-Za-z0-9_]*)\s*(?:\[[^\]]*\])?\s*(?::\s*\d+)?\s*;/y;
const poison = mkdtempSync(join(tmpdir(), 'kve-h2o-private-'));
const names = new Set();
const sources = [join(include, 'h2o.h'), ...headerFiles(join(include, 'h2o'))];
if (!existsSync(sources[0])) {
    console.error(`check-h2o-private: ${sources[0]} not found (pass the h2o include directory)`);
    process.exit(2);
}

// offsets of the semicolons that end private members declared directly in a struct or union body
function privateMembers(stripped) {
    const found = [], braces = [];
    let since = 0; // start of the current declaration (after the last ';', '{' or '}')
    for (let i = 0; i < stripped.length; ++i) {
        const c = stripped[i];
        if (c === '{') {
            braces.push(/\b(struct|union)\b/.test(stripped.slice(since, i)));
            since = i + 1;
        } else if (c === '}') {
            braces.pop();
            since = i + 1;
        } else if (c === ';') {
            since = i + 1;
        } else if (braces.at(-1) === true && /[\s*}]/.test(c)) {
            MEMBER.lastIndex = i;
            const m = MEMBER.exec(stripped);
            if (m !== null) {
                found.push({ semicolon: i + m[0].length - 1, name: m[1] });
                i += m[0].length - 2; // the ';' is handled next
            }
        }
    }
    return found;
}

for (const src of sources) {
    const text = readFileSync(src, 'utf8');
    let out = '', at = 0;
    for (const { semicolon, name } of privateMembers(stripComments(text))) {
        out += text.slice(at, semicolon) + ` __attribute__((deprecated("${MARK}")))`;
        at = semicolon;
        names.add(name);
    }
    out += text.slice(at);
    const dest = join(poison, relative(include, src));
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, out);
}
if (names.size < 10) {
    console.error(`check-h2o-private: found only ${names.size} private members in ${include}: wrong directory?`);
    process.exit(2);
}

// a compile command's words, as the shell would split them (CMake escapes -DX=\\"v\\" and quotes nothing else)
function shellWords(command) {
    const words = [];
    for (const m of command.matchAll(/(?:[^\s\\'"]|\\.|'[^']*'|"(?:\\.|[^"\\])*")+/g))
        words.push(m[0].replace(/\\(.)|'([^']*)'|"((?:\\.|[^"\\])*)"/g, (_, esc, sq, dq) =>
            esc ?? sq ?? dq.replace(/\\(.)/g, '$1')));
    return words;
}

// argv of a compile command, made a syntax-only pass through the copy
function syntaxOnly(entry) {
    const args = entry.arguments ?? shellWords(entry.command);
    const out = [];
    for (let i = 1; i < args.length; ++i) {
        if (args[i] === '-o' || args[i] === '-MF' || args[i] === '-MT' || args[i] === '-MQ') {
            ++i;
            continue;
        }
        if (args[i] === '-c' || args[i] === '-MD' || args[i] === '-MMD' || args[i] === '-Werror' || args[i].startsWith('-fsanitize'))
            continue;
        out.push(args[i]);
    }
    return { cc: args[0], args: ['-fsyntax-only', '-isystem', poison, '-Wdeprecated-declarations', ...out], cwd: entry.directory };
}

function run({ cc, args, cwd }, input) {
    return new Promise((done) => {
        const child = spawn(cc, args, { cwd, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => done({ code, stderr }));
        if (input !== undefined)
            child.stdin.end(input);
    });
}

// "file:line:col: warning: '_x' is deprecated: h2o private..." (gcc and clang)
function uses(stderr) {
    const found = [];
    for (const m of stderr.matchAll(/^([^\s:][^:\n]*):(\d+):\d+: (?:warning|error): ['‘]([^'’]+)['’] is deprecated: h2o private/gm))
        found.push({ file: resolve(m[1]), line: Number(m[2]), name: m[3] });
    return found;
}

const entries = JSON.parse(readFileSync(ccJson, 'utf8')).filter((e) => resolve(e.directory, e.file).startsWith(root + '/'));
if (entries.length === 0) {
    console.error(`check-h2o-private: no translation unit of ${root} in ${ccJson}`);
    process.exit(2);
}

let status = 0;
try {
    // self-test: a known private use, compiled the way the sources are, must be seen
    const probe = syntaxOnly(entries.find((e) => e.file.endsWith('.c')));
    probe.args = probe.args.filter((a, i, all) => all[i - 1] !== '-c' && !a.endsWith('.c'));
    probe.args.push('-x', 'c', '-');
    const selfTest = await run(probe, '#include "h2o.h"\nh2o_socket_cb probe(h2o_socket_t *sock) { return sock->_cb.read; }\n');
    if (!uses(selfTest.stderr).some((u) => u.name === '_cb')) {
        console.error(`check-h2o-private: the self-test saw no use of _cb through the marked headers:\n${selfTest.stderr}`);
        process.exit(2);
    }

    const found = new Map(), failed = [];
    // h2o's internal functions: interposing one of libh2o's symbols (defining an h2o_* function, reaching the next
    // definition with dlsym RTLD_NEXT) is h2o_private.c's business too; the compiler does not see this, a scan does
    for (const e of entries) {
        const file = resolve(e.directory, e.file), rel = relative(root, file);
        if (ALLOWED.has(rel))
            continue;
        stripComments(readFileSync(file, 'utf8')).split('\n').forEach((line, i) => {
            if (/^[A-Za-z_][\w\s*]*\bh2o_\w+\s*\([^;]*$/.test(line) && !/^\s*(?:return|if|while|for|else)\b/.test(line))
                found.set(`${rel}:${i + 1}: defines an h2o_ function (interposes libh2o)`, true);
            if (/\bRTLD_NEXT\b/.test(line))
                found.set(`${rel}:${i + 1}: dlsym(RTLD_NEXT): interposes a library function`, true);
        });
    }
    const queue = [...entries];
    const worker = async () => {
        for (let e; (e = queue.shift()) !== undefined;) {
            const { code, stderr } = await run(syntaxOnly(e));
            if (code !== 0)
                failed.push(`${relative(root, resolve(e.directory, e.file))}:\n${stderr}`);
            for (const u of uses(stderr)) {
                const rel = relative(root, u.file);
                if (!ALLOWED.has(rel) && !rel.startsWith('..'))
                    found.set(`${rel}:${u.line}: h2o private member ${u.name}`, true);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(2, availableParallelism()) }, worker));
    if (failed.length !== 0) {
        console.error(`check-h2o-private: ${failed.length} file(s) did not compile through the marked headers:\n${failed.join('\n')}`);
        status = 2;
    } else if (found.size !== 0) {
        console.error([...found.keys()].sort().join('\n'));
        console.error(`check-h2o-private: ${found.size} use(s) of h2o's private members outside proxy/h2o_private.[ch]; ` +
                      'wrap each there, with the h2o source it relies on');
        status = 1;
    } else {
        console.log(`check-h2o-private: ok (${names.size} private h2o members marked, ${entries.length} files compiled; ` +
                    'none used outside proxy/h2o_private.[ch])');
    }
} finally {
    rmSync(poison, { recursive: true, force: true });
}
process.exit(status);
