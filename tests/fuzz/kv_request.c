/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: KV REST request decoding (handlers/kv_json.c) followed by the command policy
 * (handlers/kv_policy.c) for a read-write and a read-only token.
 *
 * Input: byte 0 picks the form (bits 0-1: JSON command, JSON pipeline, URL path + query + body, URL path
 * alone) and the policy (bits 2-4); the pipeline form takes byte 1 as kv.max_commands; the path forms
 * take two 16-bit lengths (path, query) and a flags byte, then the bytes. The rest is the body.
 *
 * Oracles:
 * - JSON (differential against jansson): whatever our parser accepts jansson accepts, as an array (of
 *   arrays, for a pipeline) of strings, numbers and booleans with the same decoded bytes (numbers: our
 *   literal text is a valid RFC 8259 number and converts to jansson's value; jansson refuses integers
 *   and reals out of range, so such literals are blanked out and checked on their own); whatever jansson
 *   accepts in one of those shapes ours accepts (a pipeline: up to max_commands); errors start with "ERR ".
 * - URL forms: against a plain reference decoder written from kv_json.h's description.
 * - Policy: the command stays within its argument arrays (copied into exact-size blocks, so ASan sees a
 *   read past them), every argument is non-NULL and readable, refusals read "ERR ..." or "NOPERM ...",
 *   and the rules hold: a read-only token sends only read commands, nothing blocking, transactional or
 *   connection-bound is sent, listed refusals refuse, keys respect max_key_size, SCAN COUNT respects
 *   scan_max_count (read as Redis reads the options).
 */
#include "fuzz.h"
#include "handlers/kv_json.h"
#include "handlers/kv_policy.h"
#include "proxy/common.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <strings.h>

#define FUZZ_MAX_INPUT (64 * 1024)

/* ---- policies ---- */

static char *deny_list[] = {"get", "config|get", "eval", "flushdb"};
static char *allow_list[] = {"config", "debug|help", "keys", "info"};

static kve_rest_policy_t policies[8];

static void init_policies(void)
{
    static const kve_rest_policy_t defaults = {0, 0, 32 * 1024, 1000, {NULL, 0}, {NULL, 0}};
    for (size_t i = 0; i != 8; ++i) {
        kve_rest_policy_t *p = policies + i;
        *p = defaults;
        p->allow_keys = (i & 1) != 0;
        p->allow_flush = (i & 2) != 0;
        if (i & 4) {
            p->max_key_size = i == 4 ? 8 : 0;
            p->scan_max_count = i == 4 ? 10 : 0;
            p->deny = (typeof(p->deny)){deny_list, KVE_ARRAY_SIZE(deny_list)};
            p->allow = (typeof(p->allow)){allow_list, KVE_ARRAY_SIZE(allow_list)};
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    kve_rest_policy_init();
    init_policies();
    return 0;
}

/* ---- policy oracle ---- */

static int equals_ci(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

static int in_list(const char *s, size_t len, const char *const *list, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        if (equals_ci(s, len, list[i]))
            return 1;
    return 0;
}

/* Redis' string2ll: optional '-', no leading zeros, no '+', no spaces, fits in a long long */
static int redis_ll(const char *s, size_t len, long long *v)
{
    char buf[32];
    char *end;
    size_t i = 0;
    if (len == 0 || len >= sizeof(buf))
        return 0;
    if (s[0] == '-')
        i = 1;
    if (i == len || (s[i] == '0' && len != i + 1) || (s[i] == '0' && i == 1))
        return 0;
    for (size_t j = i; j != len; ++j)
        if (s[j] < '0' || s[j] > '9')
            return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    *v = strtoll(buf, &end, 10);
    return errno == 0;
}

/* SCAN/HSCAN/SSCAN/ZSCAN options from `i`, as Redis 7 reads them: every COUNT it would use is within the cap */
static void check_scan_count(const kve_rest_policy_t *p, const kve_rest_cmd_t *cmd, size_t i)
{
    long long v;
    if (p->scan_max_count <= 0)
        return;
    while (i < cmd->argc) {
        size_t left = cmd->argc - i;
        if (left >= 2 && equals_ci(cmd->argv[i], cmd->argvlen[i], "count")) {
            if (redis_ll(cmd->argv[i + 1], cmd->argvlen[i + 1], &v))
                FUZZ_CHECK(v <= p->scan_max_count, "SCAN COUNT %lld passed the cap %lld", v, (long long)p->scan_max_count);
            i += 2;
        } else if (left >= 2 &&
                   (equals_ci(cmd->argv[i], cmd->argvlen[i], "match") || equals_ci(cmd->argv[i], cmd->argvlen[i], "type"))) {
            i += 2;
        } else {
            i += 1; /* NOVALUES, NOSCORES or a syntax error Redis refuses */
        }
    }
}

static const char *const hard_refusals[] = {"multi",     "exec",       "discard",    "watch",       "unwatch",      "select",
                                            "swapdb",    "auth",       "hello",      "client",      "quit",         "reset",
                                            "readonly",  "readwrite",  "asking",     "wait",        "waitaof",      "monitor",
                                            "subscribe", "ssubscribe", "psubscribe", "unsubscribe", "sunsubscribe", "punsubscribe"};
static const char *const stream_commands[] = {"subscribe", "psubscribe", "monitor"};

/* the command as the policy should see it: the subcommand's entry for a container ("config get") */
static const kve_cmd_info_t *command_info(const kve_rest_cmd_t *cmd, const kve_cmd_info_t **top)
{
    const kve_cmd_info_t *info = kve_cmd_lookup(cmd->argv[0], cmd->argvlen[0]), *sub;
    char full[160];
    size_t n;

    *top = info;
    if (info == NULL || (info->flags & KVE_CMDF_CONTAINER) == 0 || cmd->argc < 2 || cmd->argvlen[1] > 64)
        return info;
    n = strlen(info->name);
    memcpy(full, info->name, n);
    full[n] = '|';
    memcpy(full + n + 1, cmd->argv[1], cmd->argvlen[1]);
    sub = kve_cmd_lookup(full, n + 1 + cmd->argvlen[1]);
    return sub != NULL ? sub : info;
}

static void check_key_sizes(const kve_rest_policy_t *p, const kve_rest_cmd_t *cmd, const kve_cmd_info_t *info)
{
    long last;
    if (p->max_key_size == 0 || info == NULL || info->first_key <= 0 || info->key_step <= 0)
        return;
    last = info->last_key < 0 ? (long)cmd->argc + info->last_key : info->last_key;
    for (long i = info->first_key; i <= last && (size_t)i < cmd->argc; i += info->key_step)
        FUZZ_CHECK(cmd->argvlen[i] <= p->max_key_size, "key %ld of %zu bytes passed max_key_size", i, cmd->argvlen[i]);
}

/* the rules every verdict must follow; `orig` is the command as decoded, `cmd` as the policy left it */
static void check_rules(const kve_rest_policy_t *p, unsigned flags, const kve_rest_cmd_t *orig, const kve_rest_cmd_t *cmd,
                        const kve_policy_result_t *res)
{
    const kve_cmd_info_t *top, *info = command_info(orig, &top);
    const char *name = orig->argv[0];
    size_t len = orig->argvlen[0];
    int stream_own = (flags & KVE_POLICY_F_STREAM) != 0 && in_list(name, len, stream_commands, KVE_ARRAY_SIZE(stream_commands));

    FUZZ_CHECK(top == NULL || equals_ci(name, len, top->name), "command \"%.*s\" was looked up as %s", (int)len, name, top->name);
    if (p->deny.size != 0 && in_list(name, len, (const char *const *)p->deny.entries, p->deny.size))
        FUZZ_CHECK(res->verdict == KVE_POLICY_DENY, "a command of the deny list was not refused");
    if (res->verdict == KVE_POLICY_DENY)
        return;
    if ((flags & KVE_POLICY_F_READ_ONLY) != 0) {
        FUZZ_CHECK(info != NULL, "a read-only token sent an unknown command");
        FUZZ_CHECK((info->flags & KVE_CMDF_WRITE) == 0, "a read-only token sent a write command (%s)", info->name);
        FUZZ_CHECK((info->flags & (KVE_CMDF_READONLY | KVE_CMDF_CAT_READ)) != 0 ||
                       in_list(info->name, strlen(info->name), (const char *const[]){"ping", "echo", "subscribe", "psubscribe"}, 4),
                   "a read-only token sent %s, which is not a read command", info->name);
        FUZZ_CHECK(!res->is_write, "a read-only command is marked as a write");
    }
    FUZZ_CHECK(stream_own || !in_list(name, len, hard_refusals, KVE_ARRAY_SIZE(hard_refusals)), "a refused command was sent");
    if (info != NULL && (info->flags & KVE_CMDF_BLOCKING) != 0 && !stream_own) {
        int xread = equals_ci(info->name, strlen(info->name), "xread") || equals_ci(info->name, strlen(info->name), "xreadgroup");
        FUZZ_CHECK(xread, "blocking command %s was sent", info->name);
        for (size_t i = 1; i < cmd->argc; ++i)
            FUZZ_CHECK(!equals_ci(cmd->argv[i], cmd->argvlen[i], "block"), "XREAD with BLOCK was sent");
    }
    if (top != NULL && (top->flags & KVE_CMDF_CONTAINER) == 0)
        check_key_sizes(p, orig, info);
    if (equals_ci(name, len, "scan") || equals_ci(name, len, "hscan") || equals_ci(name, len, "sscan") ||
        equals_ci(name, len, "zscan")) {
        if (cmd->argc != 0 && equals_ci(cmd->argv[0], cmd->argvlen[0], "eval"))
            check_scan_count(p, cmd, 4); /* EVAL script 0 <cursor> options... */
        else
            check_scan_count(p, cmd, equals_ci(name, len, "scan") ? 2 : 3);
    }
    if (res->verdict == KVE_POLICY_REPLY_INTEGER)
        FUZZ_CHECK(equals_ci(name, len, "copy") && res->integer == 0, "an integer reply for something else than COPY k k");
}

/* where check_shape() puts the bytes it read, so the reads cannot be optimised away */
volatile unsigned kv_request_sink;

/* the command as the policy left it: inside its arrays, every argument readable */
static void check_shape(const kve_rest_cmd_t *orig, const kve_rest_cmd_t *cmd, const kve_policy_result_t *res, size_t input_size)
{
    unsigned sum = 0;
    FUZZ_CHECK(res->verdict == KVE_POLICY_SEND || res->verdict == KVE_POLICY_DENY || res->verdict == KVE_POLICY_REPLY_INTEGER,
               "verdict %d", (int)res->verdict);
    if (res->verdict == KVE_POLICY_DENY) {
        FUZZ_CHECK(res->error != NULL, "a refusal without a message");
        FUZZ_CHECK(strncmp(res->error, "ERR ", 4) == 0 || strncmp(res->error, "NOPERM ", 7) == 0, "refusal \"%s\"", res->error);
        return;
    }
    FUZZ_CHECK(cmd->argc >= 1, "argc 0 after the policy");
    if (cmd->argv == orig->argv)
        FUZZ_CHECK(cmd->argc <= orig->argc, "argc %zu beyond the %zu arguments decoded", cmd->argc, orig->argc);
    else
        FUZZ_CHECK(cmd->argc <= orig->argc + 2 && equals_ci(cmd->argv[0], cmd->argvlen[0], "eval"), "unexpected rewrite");
    for (size_t i = 0; i != cmd->argc; ++i) {
        FUZZ_CHECK(cmd->argv[i] != NULL, "argv[%zu] is NULL", i);
        FUZZ_CHECK(cmd->argvlen[i] <= input_size + 4096, "argv[%zu] has an insane length %zu", i, cmd->argvlen[i]);
        for (size_t j = 0; j != cmd->argvlen[i]; ++j) /* ASan checks every byte is readable */
            sum += (unsigned char)cmd->argv[i][j];
    }
    kv_request_sink = sum;
}

/* applies policy `p` with every flag combination to a copy of `cmd` in exact-size arrays */
static void run_policy(const kve_rest_policy_t *p, const kve_rest_cmd_t *cmd, size_t input_size)
{
    static const unsigned flag_sets[] = {0, KVE_POLICY_F_READ_ONLY, KVE_POLICY_F_STREAM,
                                         KVE_POLICY_F_STREAM | KVE_POLICY_F_READ_ONLY};

    for (size_t f = 0; f != KVE_ARRAY_SIZE(flag_sets); ++f) {
        h2o_mem_pool_t pool;
        kve_policy_result_t res;
        kve_rest_cmd_t orig = {cmd->argc, (const char **)fuzz_exact_copy(cmd->argv, cmd->argc * sizeof(*cmd->argv)),
                               (size_t *)fuzz_exact_copy(cmd->argvlen, cmd->argc * sizeof(*cmd->argvlen))};
        kve_rest_cmd_t work = orig;
        /* the policy may rewrite arguments in place: keep the decoded ones for the rules */
        kve_rest_cmd_t before = {cmd->argc, (const char **)fuzz_exact_copy(cmd->argv, cmd->argc * sizeof(*cmd->argv)),
                                 (size_t *)fuzz_exact_copy(cmd->argvlen, cmd->argc * sizeof(*cmd->argvlen))};

        h2o_mem_init_pool(&pool);
        kve_rest_policy_apply(p, flag_sets[f], &work, &pool, &res);
        check_shape(&orig, &work, &res, input_size);
        check_rules(p, flag_sets[f], &before, &work, &res);
        h2o_mem_clear_pool(&pool);
        free(orig.argv);
        free(orig.argvlen);
        free(before.argv);
        free(before.argvlen);
    }
}

/* ---- JSON differential ---- */

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_json_number(const char *s, size_t len)
{
    size_t i = 0, d;
    if (i < len && s[i] == '-')
        ++i;
    if (i < len && s[i] == '0') {
        ++i;
    } else {
        for (d = i; i < len && isdigit((unsigned char)s[i]); ++i)
            ;
        if (i == d)
            return 0;
    }
    if (i < len && s[i] == '.') {
        for (d = ++i; i < len && isdigit((unsigned char)s[i]); ++i)
            ;
        if (i == d)
            return 0;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            ++i;
        for (d = i; i < len && isdigit((unsigned char)s[i]); ++i)
            ;
        if (i == d)
            return 0;
    }
    return i == len;
}

/* jansson value `v` is argument `arg`; `blanked`: the literal was replaced by 0 for jansson (out of its range) */
static void check_arg(const json_t *v, const char *arg, size_t len, int blanked)
{
    char num[FUZZ_MAX_INPUT + 1];

    switch (json_typeof(v)) {
    case JSON_STRING:
        FUZZ_CHECK(json_string_length(v) == len && memcmp(json_string_value(v), arg, len) == 0,
                   "string argument differs from jansson");
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        FUZZ_CHECK(equals_ci(arg, len, json_is_true(v) ? "true" : "false") &&
                       memcmp(arg, json_is_true(v) ? "true" : "false", len) == 0,
                   "boolean argument differs from jansson");
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        FUZZ_CHECK(is_json_number(arg, len), "number argument \"%.*s\" is not an RFC 8259 number", (int)len, arg);
        memcpy(num, arg, len);
        num[len] = '\0';
        if (blanked)
            FUZZ_CHECK(json_is_integer(v) && json_integer_value(v) == 0, "blanked literal is not 0");
        else if (json_is_integer(v))
            FUZZ_CHECK(strtoll(num, NULL, 10) == json_integer_value(v), "integer \"%s\" differs from jansson", num);
        else
            FUZZ_CHECK(strtod(num, NULL) == json_real_value(v), "real \"%s\" differs from jansson", num);
        break;
    default:
        FUZZ_CHECK(0, "jansson has a %d where we have an argument", (int)json_typeof(v));
    }
}

/* an array of one or more strings, numbers and booleans */
static int is_command(const json_t *v)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return 0;
    json_array_foreach(v, i, e) if (!json_is_string(e) && !json_is_number(e) && !json_is_boolean(e)) return 0;
    return 1;
}

static int is_pipeline(const json_t *v, size_t max)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > max)
        return 0;
    json_array_foreach(v, i, e) if (!is_command(e)) return 0;
    return 1;
}

static void compare_command(const json_t *a, const kve_rest_cmd_t *cmd, const char *copy, const char *orig, const char *blanked)
{
    /* blanked is NULL when jansson read the input as it is */
    FUZZ_CHECK(json_array_size(a) == cmd->argc, "%zu arguments, jansson has %zu", cmd->argc, json_array_size(a));
    for (size_t i = 0; i != cmd->argc; ++i) {
        size_t off = (size_t)(cmd->argv[i] - copy);
        check_arg(json_array_get(a, i), cmd->argv[i], cmd->argvlen[i],
                  blanked != NULL && orig[off - 1] != '"' && blanked[off] == '0');
    }
}

/* the literals of the decoded commands (arguments not preceded by a quote) replaced by "0" and spaces in a
 * copy of the original: jansson refuses numbers beyond its range that are valid JSON */
static char *blank_literals(const char *orig, size_t len, const char *copy, const kve_rest_cmd_t *cmds, size_t ncmds)
{
    char *b = malloc(len + 1);
    if (b == NULL)
        abort();
    memcpy(b, orig, len);
    for (size_t c = 0; c != ncmds; ++c) {
        for (size_t i = 0; i != cmds[c].argc; ++i) {
            size_t off = (size_t)(cmds[c].argv[i] - copy);
            if (off == 0 || orig[off - 1] == '"' || cmds[c].argvlen[i] == 0 ||
                !(orig[off] == '-' || isdigit((unsigned char)orig[off])))
                continue;
            memset(b + off, ' ', cmds[c].argvlen[i]);
            b[off] = '0';
        }
    }
    return b;
}

static int range_error(const json_error_t *e)
{
    return strstr(e->text, "too big") != NULL || strstr(e->text, "overflow") != NULL;
}

static void run_json(const uint8_t *data, size_t len, int pipeline, size_t max_commands, const kve_rest_policy_t *p)
{
    h2o_mem_pool_t pool;
    char *copy = malloc(len != 0 ? len : 1), *blanked = NULL;
    const char *err = NULL;
    kve_rest_cmd_t one, *cmds = &one;
    size_t ncmds = 1;
    json_error_t jerr;
    json_t *j = NULL;
    int rc;

    if (copy == NULL)
        abort();
    memcpy(copy, data, len);
    h2o_mem_init_pool(&pool);
    rc = pipeline ? kve_rest_parse_commands(copy, len, &pool, max_commands, &cmds, &ncmds, &err)
                  : kve_rest_parse_command(copy, len, &pool, &one, &err);
    if (memchr(data, '\0', len) != NULL) {
        /* a raw NUL is never valid JSON (RFC 8259: not whitespace, and escaped inside strings), but jansson 2.14
         * skips one that its lexer had to push back (after a number or a literal), so it cannot be the judge */
        FUZZ_CHECK(rc != 0, "a raw NUL byte was accepted");
        j = NULL;
        goto Exit;
    }
    j = json_loadb((const char *)data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (rc != 0) {
        FUZZ_CHECK(err != NULL && strncmp(err, "ERR ", 4) == 0, "error message \"%s\"", err != NULL ? err : "(null)");
        FUZZ_CHECK(j == NULL || !(pipeline ? is_pipeline(j, max_commands) : is_command(j)), "jansson accepts a %s we refuse: %s",
                   pipeline ? "pipeline" : "command", err);
        goto Exit;
    }
    blanked = blank_literals((const char *)data, len, copy, cmds, ncmds);
    if (j == NULL) {
        FUZZ_CHECK(range_error(&jerr), "we accept what jansson refuses: %s (byte %d)", jerr.text, jerr.position);
        j = json_loadb(blanked, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        FUZZ_CHECK(j != NULL, "jansson refuses the input with its numbers blanked: %s", jerr.text);
    } else {
        free(blanked); /* jansson read every number itself */
        blanked = NULL;
    }
    FUZZ_CHECK(pipeline ? is_pipeline(j, max_commands) : is_command(j), "jansson reads another shape than we do");
    if (pipeline) {
        FUZZ_CHECK(json_array_size(j) == ncmds, "%zu commands, jansson has %zu", ncmds, json_array_size(j));
        for (size_t c = 0; c != ncmds; ++c)
            compare_command(json_array_get(j, c), cmds + c, copy, (const char *)data, blanked);
    } else {
        compare_command(j, &one, copy, (const char *)data, blanked);
    }
    for (size_t c = 0; c != ncmds; ++c)
        run_policy(p, cmds + c, len);
Exit:
    json_decref(j);
    free(blanked);
    h2o_mem_clear_pool(&pool);
    free(copy);
}

/* ---- URL forms, against a reference decoder ---- */

typedef struct st_ref_args_t {
    size_t n;
    const char *argv[FUZZ_MAX_INPUT];
    size_t argvlen[FUZZ_MAX_INPUT];
    char buf[2 * FUZZ_MAX_INPUT];
    size_t used;
} ref_args_t;

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

/* decodes s[0..len) into the reference's buffer as one more argument; -1 on a bad escape */
static int ref_push(ref_args_t *r, const char *s, size_t len, int plus_is_space)
{
    char *out = r->buf + r->used;
    size_t n = 0;
    for (size_t i = 0; i < len; ++i) {
        if (s[i] != '%') {
            out[n++] = plus_is_space && s[i] == '+' ? ' ' : s[i];
            continue;
        }
        if (i + 2 >= len || hexval((unsigned char)s[i + 1]) < 0 || hexval((unsigned char)s[i + 2]) < 0)
            return -1;
        out[n++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
        i += 2;
    }
    r->argv[r->n] = out;
    r->argvlen[r->n++] = n;
    r->used += n;
    return 0;
}

/* the reference for kve_rest_parse_path: 0, 1 (empty command) or 2 (bad percent-encoding) */
static int ref_parse_path(ref_args_t *r, const char *path, size_t plen, const char *query, size_t qlen, const char *body,
                          size_t blen)
{
    size_t start, i;
    r->n = r->used = 0;
    if (plen != 0 && path[0] == '/')
        ++path, --plen;
    if (plen != 0 && path[plen - 1] == '/')
        --plen;
    if (plen == 0)
        return 1;
    for (start = 0, i = 0; i <= plen; ++i) {
        if (i == plen || path[i] == '/') {
            if (ref_push(r, path + start, i - start, 0) != 0)
                return 2;
            start = i + 1;
        }
    }
    if (blen != 0) {
        r->argv[r->n] = body;
        r->argvlen[r->n++] = blen;
    }
    for (start = 0, i = 0; query != NULL && i <= qlen; ++i) {
        if (i != qlen && query[i] != '&')
            continue;
        const char *pair = query + start, *eq = memchr(pair, '=', i - start);
        size_t klen = eq != NULL ? (size_t)(eq - pair) : i - start;
        start = i + 1;
        if (pair == query + i) /* empty pair */
            continue;
        size_t mark = r->n;
        if (ref_push(r, pair, klen, 1) != 0)
            return 2;
        if (r->argvlen[mark] == 6 && memcmp(r->argv[mark], "_token", 6) == 0) {
            r->n = mark;
            continue;
        }
        if (eq != NULL && ref_push(r, eq + 1, (size_t)(query + i - eq - 1), 1) != 0)
            return 2;
    }
    return 0;
}

/* the reference for kve_rest_query_param: 0 and the value in `r`'s only argument, or -1 (pairs are
 * separated by '&'; a final '&' adds no empty pair; a key with a bad escape matches nothing) */
static int ref_query_param(ref_args_t *r, const char *query, size_t qlen, const char *name)
{
    const char *p = query, *end = query + qlen;
    if (query == NULL)
        return -1;
    while (p != end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pair_end - p)), *key_end = eq != NULL ? eq : pair_end;
        r->n = r->used = 0;
        if (ref_push(r, p, (size_t)(key_end - p), 1) == 0 && r->argvlen[0] == strlen(name) &&
            memcmp(r->argv[0], name, r->argvlen[0]) == 0) {
            const char *v = eq != NULL ? eq + 1 : pair_end;
            r->n = r->used = 0;
            return ref_push(r, v, (size_t)(pair_end - v), 0);
        }
        p = amp != NULL ? amp + 1 : end;
    }
    return -1;
}

static ref_args_t ref;

static void check_query_param(const char *query, size_t qlen, const char *name)
{
    h2o_mem_pool_t pool;
    h2o_iovec_t v = {NULL, 0};
    int rc, want;

    h2o_mem_init_pool(&pool);
    rc = kve_rest_query_param(query, qlen, name, &pool, &v);
    want = ref_query_param(&ref, query, qlen, name);
    FUZZ_CHECK(rc == want, "query_param(\"%s\") returned %d, the reference %d", name, rc, want);
    if (rc == 0) {
        FUZZ_CHECK(v.len == ref.argvlen[0] && memcmp(v.base, ref.argv[0], v.len) == 0, "query_param(\"%s\") value differs", name);
        FUZZ_CHECK(v.base[v.len] == '\0', "query_param value is not NUL-terminated");
    }
    h2o_mem_clear_pool(&pool);
}

static void run_path(fuzz_in_t *in, int with_query, const kve_rest_policy_t *p, size_t input_size)
{
    size_t plen = fuzz_u16(in), qlen = fuzz_u16(in), got;
    uint8_t flags = fuzz_u8(in);
    const uint8_t *pb = fuzz_bytes(in, plen, &plen), *qb = fuzz_bytes(in, qlen, &qlen), *bb = fuzz_bytes(in, fuzz_left(in), &got);
    char *path = fuzz_exact_copy(pb, plen), *query = with_query && (flags & 1) ? fuzz_exact_copy(qb, qlen) : NULL;
    char *body = (flags & 2) ? fuzz_exact_copy(bb, got) : NULL;
    size_t blen = body != NULL ? got : 0;
    const char *err = NULL;
    h2o_mem_pool_t pool;
    kve_rest_cmd_t cmd;
    int rc, want;

    if (query == NULL)
        qlen = 0;
    h2o_mem_init_pool(&pool);
    rc = kve_rest_parse_path(path != NULL ? path : "", plen, query, qlen, body, blen, &pool, &cmd, &err);
    want = ref_parse_path(&ref, path != NULL ? path : "", plen, query, qlen, body, blen);
    FUZZ_CHECK((rc == 0) == (want == 0), "parse_path returned %d, the reference %d", rc, want);
    if (rc != 0) {
        FUZZ_CHECK(strcmp(err, want == 1 ? "ERR empty command" : "ERR invalid percent-encoding in the URL") == 0, "error \"%s\"",
                   err);
    } else {
        FUZZ_CHECK(cmd.argc == ref.n, "parse_path gave %zu arguments, the reference %zu", cmd.argc, ref.n);
        for (size_t i = 0; i != cmd.argc; ++i)
            FUZZ_CHECK(cmd.argvlen[i] == ref.argvlen[i] && memcmp(cmd.argv[i], ref.argv[i], cmd.argvlen[i]) == 0,
                       "argument %zu differs from the reference", i);
        run_policy(p, &cmd, input_size);
    }
    if (query != NULL) {
        char name[9] = {0};
        size_t n = 0;
        check_query_param(query, qlen, "_token");
        for (size_t i = 0; i != 8 && i != plen && path[i] != '\0'; ++i) /* a name from the path's first bytes */
            name[n++] = path[i];
        check_query_param(query, qlen, name);
    }
    h2o_mem_clear_pool(&pool);
    free(path);
    free(query);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = fuzz_in(data, size);
    uint8_t sel = fuzz_u8(&in);
    const kve_rest_policy_t *p = policies + ((sel >> 2) & 7);
    size_t max_commands;

    if (size > FUZZ_MAX_INPUT)
        return 0;
    switch (sel & 3) {
    case 0:
        run_json(in.p, fuzz_left(&in), 0, 0, p);
        break;
    case 1:
        max_commands = fuzz_u8(&in);
        run_json(in.p, fuzz_left(&in), 1, max_commands == 0 ? 10000 : max_commands, p);
        break;
    default:
        run_path(&in, (sel & 3) == 2, p, size);
        break;
    }
    return 0;
}
