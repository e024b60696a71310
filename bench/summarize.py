#!/usr/bin/env python3
"""Summarize a bench/run.sh results directory as markdown (python3 standard library only).

usage: summarize.py WORK_DIR        (WORK_DIR holds raw/ as written by bench/run.sh)

Every number is the median over the rounds, with min-max; every ratio is computed *within a
round* (both tests measured minutes apart under the same machine load) and then the median of the
per-round ratios is taken.  Exit status: 0 = checks passed and every bar PASSed, 1 = a correctness
check failed (non-2xx, socket errors, wrong body, crash, unclean exit), 2 = checks passed, a bar MISSed.
"""
import csv
import glob
import os
import re
import statistics as st
import sys
from collections import defaultdict

if len(sys.argv) != 2:
    sys.exit(__doc__)
WORK = sys.argv[1]
RAW = os.path.join(WORK, 'raw')
if not os.path.isdir(RAW):
    sys.exit(f'summarize.py: no raw/ directory in {WORK}')


def read(name, default=''):
    try:
        with open(os.path.join(RAW, name)) as f:
            return f.read()
    except FileNotFoundError:
        return default


def kvs(text):
    return dict(re.findall(r'(\w+)=(\S+)', text))


META = dict(l.split('=', 1) for l in read('meta.txt').splitlines() if '=' in l)
CLK = int(META.get('clk_tck', '100'))
KV_TR = META.get('kvedge_redis', 'unix')
WD_TR = META.get('webdis_redis', 'tcp')
CONNS = [int(c) for c in META.get('conns', '16 64').split()]
PIPE = int(META.get('pipeline', '100'))

# servers whose CPU is charged to a test (they all run on the server core)
ALL_SERVERS = ('kvedge', 'redis', 'webdis', 'nginx')


def servers_of(test):
    if test.startswith('nginx'):
        return ('nginx',)
    if test == 'kvedge-healthz':
        return ('kvedge',)
    if test.startswith('kvedge'):
        return ('kvedge', 'redis')
    if test.startswith('webdis'):
        return ('webdis', 'redis')
    return ('redis',)


def med(xs):
    return st.median(xs) if xs else float('nan')


def fmt_int(x):
    return '–' if x != x else f'{x:,.0f}'


# ---------------------------------------------------------------------------------------------
# rows[(test, conns)][round] = dict(rps, thr (commands/s), p50, p99, p999 (ms), err{}, cpu...)
rows = defaultdict(dict)
problems = []          # correctness failures
kv_rss = []


def parse_meta(path):
    d = {'before': {}, 'after': {}}
    try:
        text = open(path).read()
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        if line.startswith(('before ', 'after ')):
            d[line.split()[0]] = {k: float(v) for k, v in kvs(line).items()}
        elif line.startswith('client '):
            p = line.split()
            try:
                d['client'] = (float(p[1]), float(p[2]), float(p[3]))
            except (IndexError, ValueError):
                pass
        else:
            d.update(kvs(line))
    return d


def cpu_fields(meta, test, requests):
    """server CPU per request (split per server), server-core and client-core foreign load"""
    b, a = meta['before'], meta['after']
    if not b or not a:
        return {}
    wall = a['uptime'] - b['uptime']
    ticks = {s: a.get(s, 0) - b.get(s, 0) for s in ALL_SERVERS}
    out = {'us_per_req': {s: ticks[s] / CLK / requests * 1e6 for s in servers_of(test)} if requests else {},
           'srv_pct': 100 * sum(ticks[s] for s in servers_of(test)) / CLK / wall if wall > 0 else float('nan')}
    # /proc/stat counts in USER_HZ (100/s); its per-CPU total can lag behind the wall clock on this VM,
    # so the wall clock is the denominator
    hz_wall = wall * 100
    if hz_wall > 0:
        ours = sum(ticks.values()) * 100 / CLK
        out['srv_other'] = min(100.0, max(0.0, 100 * ((a['srv_busy'] - b['srv_busy']) - ours) / hz_wall))
        out['srv_steal'] = 100 * (a['srv_steal'] - b['srv_steal']) / hz_wall
        if 'client' in meta:
            u, s, r = meta['client']
            out['cli_pct'] = 100 * (u + s) / r if r > 0 else float('nan')
            out['cli_other'] = min(100.0, max(0.0, 100 * ((a['cli_busy'] - b['cli_busy']) - (u + s) * 100) / hz_wall))
    return out


for f in sorted(glob.glob(os.path.join(RAW, 'wrk-*.txt'))):
    mm = re.match(r'wrk-(.+)-c(\d+)-r(\d+)\.txt$', os.path.basename(f))
    if not mm:
        continue
    test, c, r = mm.group(1), int(mm.group(2)), int(mm.group(3))
    text = open(f).read()
    bm = re.search(r'^BENCH (.*)$', text, re.M)
    if not bm:
        problems.append(f'wrk {test} c{c} r{r}: no result (wrk failed): {text.strip()[-200:]!r}')
        continue
    b = {k: float(v) for k, v in kvs(bm.group(1)).items()}
    meta = parse_meta(f[:-4] + '.meta') or {'before': {}, 'after': {}}
    mult = int(meta.get('mult', 1))
    rps = b['requests'] / (b['duration_us'] / 1e6)
    err = {k[4:]: int(v) for k, v in b.items() if k.startswith('err_') and v}
    if err:
        problems.append(f'wrk {test} c{c} r{r}: ' + ', '.join(f'{v} {k}' for k, v in err.items())
                        + ' (status = non-2xx/3xx responses)')
    if b['requests'] == 0:
        problems.append(f'wrk {test} c{c} r{r}: 0 requests completed')
    row = dict(rps=rps, thr=rps * mult, mult=mult, p50=b['p50_us'] / 1000, p99=b['p99_us'] / 1000,
               p999=b['p999_us'] / 1000, max=b['max_us'] / 1000, err=err, requests=b['requests'])
    row.update(cpu_fields(meta, test, b['requests']))
    if test.startswith('kvedge') and 'kvedge_rss_kb' in meta:
        kv_rss.append((int(meta['kvedge_rss_kb']), f'{test} c{c} r{r}'))
    rows[(test, c)][r] = row

for f in sorted(glob.glob(os.path.join(RAW, 'rb-*.csv'))):
    mm = re.match(r'rb-(tcp|unix)-P(\d+)-c(\d+)-r(\d+)\.csv$', os.path.basename(f))
    if not mm:
        continue
    tr, p, c, r = mm.group(1), int(mm.group(2)), int(mm.group(3)), int(mm.group(4))
    meta = parse_meta(f[:-4] + '.meta') or {'before': {}, 'after': {}}
    got = {}
    try:
        for rec in csv.DictReader(open(f)):
            got[rec['test'].lower()] = rec
    except (KeyError, csv.Error):
        pass
    for t in ('get', 'set'):
        if t not in got:
            problems.append(f'redis-benchmark {tr} -P {p} -c {c} r{r}: no {t.upper()} result '
                            f'({read(os.path.basename(f)[:-4] + ".err").strip()[:200]!r})')
            continue
        rec = got[t]
        rps = float(rec['rps'])
        rows[(f'redis-{t}-{tr}-P{p}', c)][r] = dict(rps=rps, thr=rps, mult=1, p50=float(rec['p50_latency_ms']),
                                                    p99=float(rec['p99_latency_ms']), p999=float('nan'),
                                                    max=float(rec['max_latency_ms']), err={}, requests=0)
    # redis CPU over the GET+SET invocation (n requests each)
    n = int(meta.get('n', 0))
    cf = cpu_fields(meta, 'redis', 2 * n) if n else {}
    for t in ('get', 'set'):
        if (f'redis-{t}-{tr}-P{p}', c) in rows and r in rows[(f'redis-{t}-{tr}-P{p}', c)]:
            rows[(f'redis-{t}-{tr}-P{p}', c)][r].update(cf)


# ---------------------------------------------------------------------------------------------
def ratio(test, ref, c):
    """per-round ratios of throughput (commands/s for pipelines)"""
    A, B = rows.get((test, c), {}), rows.get((ref, c), {})
    return [A[r]['thr'] / B[r]['thr'] for r in sorted(A) if r in B and B[r]['thr'] > 0]


def fmt_ratio(rs):
    if not rs:
        return '–'
    s = f'{med(rs):.2f}×'
    if len(rs) > 1:
        s += f' ({min(rs):.2f}–{max(rs):.2f})'
    return s


PIPE_TEST = f'kvedge-pipeline{PIPE}'
REFS = {
    'kvedge-get': ['webdis-get', 'nginx-return', f'redis-get-{KV_TR}-P1'],
    'kvedge-get-post': ['kvedge-get', 'webdis-get'],
    'kvedge-healthz': ['nginx-return'],
    'kvedge-set': ['webdis-set', f'redis-set-{KV_TR}-P1'],
    'webdis-get': ['nginx-return', f'redis-get-{WD_TR}-P1'],
    'webdis-set': [f'redis-set-{WD_TR}-P1'],
    PIPE_TEST: [f'redis-get-{KV_TR}-P16', 'kvedge-get'],
}
ORDER = ['nginx-return', 'kvedge-healthz', 'kvedge-get', 'kvedge-get-post', 'webdis-get', 'kvedge-set',
         'webdis-set', PIPE_TEST]

out = []
P = out.append
P(f'## kvedge benchmark, {META.get("date", "?")}')
P('')
P(f'- machine: {META.get("cpus", "?")} CPUs ({META.get("model", "?")}), '
  f'kernel {META.get("kernel", "?")}, servers on CPU {META.get("server_cpu", "?")}, load generators on CPU {META.get("client_cpu", "?")}')
P(f'- {META.get("kvedge", "kvedge ?")} (git {META.get("git", "?")}, {META.get("dirty_files", "?")} files changed outside bench/, '
  f'binary sha256 {META.get("sha256", "?")}), threads {META.get("kvedge_threads", "?")}, Redis over {KV_TR}; '
  f'webdis threads 1 pool 20, Redis over {WD_TR}; nginx worker_processes 1')
if 'versions' in META:
    P(f'- {META["versions"]}')
P(f'- rounds {META.get("rounds", "?")}, wrk -t1 -d{META.get("duration", "?")} --latency, connections {" and ".join(map(str, CONNS))}, '
  f'value {META.get("value_bytes", "?")} bytes, pipeline {PIPE} commands')
loads = re.findall(r'^round (\d+) (start|end) (\S+) load (.*)$', read('load.txt'), re.M)
if loads:
    P('- load average (1/5/15 min): ' + '; '.join(f'r{r} {w} {l}' for r, w, _, l in loads))
P('')

# --- bars ---
bars_ok = True
P('### Bars')
P('')
P('| bar | conns | measured (median of per-round ratios, min–max) | target | result |')
P('|---|---|---|---|---|')


def bar(label, test, ref, c, target, info=False):
    global bars_ok
    rs = ratio(test, ref, c)
    if not rs:
        res = 'not measured'
        if not info:
            bars_ok = False
    elif info:
        res = 'info'
    else:
        ok = med(rs) >= target
        res = '**PASS**' if ok else '**MISS**'
        bars_ok &= ok
    P(f'| {label} | {c} | {fmt_ratio(rs)} | {"–" if info else f"≥ {target:.1f}×"} | {res} |')


c_hi = 64 if 64 in CONNS else (max(CONNS) if CONNS else 64)
bar('kvedge GET / webdis GET', 'kvedge-get', 'webdis-get', c_hi, 2.0)
for c in CONNS:
    bar('kvedge GET / nginx `return 200`', 'kvedge-get', 'nginx-return', c, 0.8)
for c in CONNS:
    bar(f'kvedge commands/s in {PIPE}-command /pipeline / redis-benchmark -P 16 GET ({KV_TR})', PIPE_TEST,
        f'redis-get-{KV_TR}-P16', c, 0.5)
for c in CONNS:
    bar('kvedge /healthz / nginx `return 200` (reference, no bar)', 'kvedge-healthz', 'nginx-return', c, 0, info=True)
P('')

# --- HTTP table ---
P('### HTTP (wrk -t1)')
P('')
P('| test | conns | req/s median (min–max) | commands/s | p50 ms | p99 ms | p99.9 ms | ratios (median of per-round) | errors |')
P('|---|---|---|---|---|---|---|---|---|')
tests = [t for t in ORDER if any((t, c) in rows for c in CONNS)] + \
    sorted({t for (t, c) in rows if not t.startswith('redis-') and t not in ORDER})
for t in tests:
    for c in CONNS:
        R = rows.get((t, c))
        if not R:
            continue
        rps = [v['rps'] for v in R.values()]
        thr = [v['thr'] for v in R.values()]
        rng = f' ({fmt_int(min(rps))}–{fmt_int(max(rps))})' if len(rps) > 1 else ''
        rat = '; '.join(f'{fmt_ratio(ratio(t, ref, c))} {ref}' for ref in REFS.get(t, []) if ratio(t, ref, c))
        nerr = sum(sum(v['err'].values()) for v in R.values())
        P(f'| {t} | {c} | {fmt_int(med(rps))}{rng} n={len(rps)} | '
          f'{fmt_int(med(thr)) if R[min(R)]["mult"] > 1 else ""} | {med([v["p50"] for v in R.values()]):.3f} | '
          f'{med([v["p99"] for v in R.values()]):.2f} | {med([v["p999"] for v in R.values()]):.2f} | {rat} | {nerr} |')
P('')

# --- CPU table ---
P('### Server CPU and noise')
P('')
P('Server CPU is user+sys of the server processes charged to the test (from /proc/<pid>/stat, 10 ms ticks). '
  '"other load" is the busy time of a core not explained by our own processes (other jobs, and softirq '
  'work not charged to a process), and steal is hypervisor steal; high values mean that run was disturbed.')
P('')
P('| test | conns | server CPU µs/request (per process) | server CPU % of a core | wrk CPU % | other load server / client core % | steal server core % |')
P('|---|---|---|---|---|---|---|')
for t in tests:
    for c in CONNS:
        R = rows.get((t, c))
        if not R:
            continue
        vals = [v for v in R.values() if v.get('us_per_req')]
        if vals:
            per = {s: med([v['us_per_req'][s] for v in vals]) for s in vals[0]['us_per_req']}
            tot = med([sum(v['us_per_req'].values()) for v in vals])
            per_s = ' + '.join(f'{s} {x:.1f}' for s, x in per.items())
            cpu = f'**{tot:.1f}**' + (f' ({per_s})' if len(per) > 1 else '')
            if R[min(R)]['mult'] > 1:
                cpu += f'; {tot / R[min(R)]["mult"]:.2f} per command'
        else:
            cpu = '–'

        def m(k):
            xs = [v[k] for v in R.values() if k in v]
            return f'{med(xs):.0f}' if xs else '–'
        P(f'| {t} | {c} | {cpu} | {m("srv_pct")} | {m("cli_pct")} | {m("srv_other")} / {m("cli_other")} | {m("srv_steal")} |')
P('')

# --- redis-benchmark table ---
P('### Redis limit (redis-benchmark -d 100, pinned like wrk)')
P('')
P('| test | transport | -P | conns | requests/s median (min–max) | p50 ms | p99 ms | ratio to -P 1 TCP | redis CPU µs/request (GET+SET run) | client CPU % | other load server / client core % |')
P('|---|---|---|---|---|---|---|---|---|---|---|')
for t in ('get', 'set'):
    for tr in ('tcp', 'unix'):
        for p in (1, 16):
            for c in CONNS:
                key = f'redis-{t}-{tr}-P{p}'
                R = rows.get((key, c))
                if not R:
                    continue
                rps = [v['rps'] for v in R.values()]
                rng = f' ({fmt_int(min(rps))}–{fmt_int(max(rps))})' if len(rps) > 1 else ''
                ref = f'redis-{t}-tcp-P1'
                rat = fmt_ratio(ratio(key, ref, c)) if key != ref else ''
                us = [sum(v['us_per_req'].values()) for v in R.values() if v.get('us_per_req')]

                def m(k):
                    xs = [v[k] for v in R.values() if k in v]
                    return f'{med(xs):.0f}' if xs else '–'
                P(f'| {t.upper()} | {tr} | {p} | {c} | {fmt_int(med(rps))}{rng} n={len(rps)} | '
                  f'{med([v["p50"] for v in R.values()]):.3f} | {med([v["p99"] for v in R.values()]):.2f} | {rat} | '
                  f'{f"{med(us):.2f}" if us else "–"} | {m("cli_pct")} | {m("srv_other")} / {m("cli_other")} |')
P('')

# --- checks ---
P('### Correctness checks')
P('')
checks = [l for l in read('checks.txt').splitlines() if l.strip()]
nwrk = sum(len(R) for (t, c), R in rows.items() if not t.startswith('redis-'))
wrk_bad = [p for p in problems if p.startswith('wrk')]
P(f'- wrk runs: {nwrk}; ' + ('all with 0 non-2xx responses and 0 socket errors' if not wrk_bad else
                             f'**{len(wrk_bad)} with errors**'))
for p in problems:
    P(f'  - **FAIL** {p}')
bad = [l for l in checks if l.startswith('FAIL')]
P(f'- curl / process checks: {len(checks) - len(bad)} OK, {len(bad)} failed'
  + (' (response bodies of every endpoint before and after the run, 401 without token, all servers alive, '
     'kvedge exit 0 on SIGTERM)' if not bad else ''))
for l in bad:
    P(f'  - **{l}**')
    problems.append(l)


def metrics(text):
    d = {}
    for route, status, n in re.findall(r'^kvedge_http_requests_total\{route="([^"]*)",status="(\d+)"\} (\d+)', text, re.M):
        d[(route, status)] = int(n)
    return d


mb, ma = metrics(read('kvedge-metrics-before.txt')), metrics(read('kvedge-metrics-after.txt'))
if ma:
    delta = {k: v - mb.get(k, 0) for k, v in ma.items() if v - mb.get(k, 0)}
    non2xx = {k: v for k, v in delta.items() if not k[1].startswith('2')}
    P('- kvedge /metrics during the benchmark (warm-up + rounds): '
      + ', '.join(f'route {k[0]} status {k[1]}: {v:,}' for k, v in sorted(delta.items())))
    if non2xx:
        P('  - **non-2xx answers counted by kvedge itself: '
          + ', '.join(f'{k[0]} {k[1]}: {v}' for k, v in non2xx.items()) + '**')
        problems.append('kvedge metrics show non-2xx answers')
rss0 = int(META.get('kvedge_idle_rss_kb', 0))
rss1 = int(META.get('kvedge_after_rss_kb', 0))
if kv_rss:
    peak = max(kv_rss)
    P(f'- kvedge RSS: idle {rss0 / 1024:.1f} MiB, largest after a test {peak[0] / 1024:.1f} MiB ({peak[1]}), '
      f'at the end {rss1 / 1024:.1f} MiB')
log = read('kvedge-error.log').splitlines()
noisy = [l for l in log if re.search(r'\[(warn|error)\]', l)]
P(f'- kvedge error log: {len(log)} lines, {len(noisy)} at warn/error level'
  + (': ' + ' | '.join(l.strip()[:160] for l in noisy[:5]) if noisy else ''))
P('')
P(f'**Result: correctness {"OK" if not problems else "FAILED"}; bars {"all PASS" if bars_ok else "not all PASS"}.** '
  'Ratios within ±25 % of a bar are inside this machine\'s noise (docs/benchmarks.md).')
print('\n'.join(out))
sys.exit(1 if problems else 0 if bars_ok else 2)
