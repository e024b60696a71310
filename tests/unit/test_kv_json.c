/* SPDX-License-Identifier: MIT */
/*
 * Table tests for handlers/kv_json.c: JSON command bodies (argument types, number literals, escapes,
 * surrogates, UTF-8 validation, every error text with its byte offset), pipelines and their limits, URL
 * paths with body and query arguments, and query parameter lookup. Each JSON input is copied so that it
 * ends right before a PROT_NONE page (as picohttpparser's tests do): reading one byte too far faults.
 */
#include "test.h"
#include "handlers/kv_json.h"
#include "proxy/buf.h"
#include "proxy/common.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOT_ARRAY "ERR the request body must be a JSON array, like [\"SET\",\"key\",\"value\"]"
#define NOT_PIPELINE "ERR the request body must be a JSON array of commands, like [[\"SET\",\"key\",\"value\"],[\"GET\",\"key\"]]"
#define NOT_SCALAR "; arguments must be strings, numbers or booleans"
#define BAD_PERCENT "ERR invalid percent-encoding in the URL"

/* a writable copy of an input, placed to end exactly at a PROT_NONE page */
typedef struct st_guarded_t {
    char *map;
    size_t map_len;
    char *data;
} guarded_t;

static char *guard_copy(guarded_t *g, const char *s, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), pages = (len + page - 1) / page + 1;

    g->map_len = pages * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    KVE_ASSERT(g->map != MAP_FAILED);
    KVE_ASSERT(mprotect(g->map + (pages - 1) * page, page, PROT_NONE) == 0);
    g->data = g->map + (pages - 1) * page - len;
    if (len != 0)
        memcpy(g->data, s, len);
    return g->data;
}

static void guard_free(guarded_t *g)
{
    munmap(g->map, g->map_len);
}

/* Renders commands as "arg,arg;arg": ',' ';' '\\' and bytes outside printable ASCII as \xHH. */
static void render_append(kve_buf_t *buf, const char *s, size_t len)
{
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == ',' || c == ';' || c == '\\')
            kve_buf_printf(buf, "\\x%02x", c);
        else
            kve_buf_putc(buf, (char)c);
    }
}

static const char *render(kve_buf_t *buf, const kve_rest_cmd_t *cmds, size_t ncmds)
{
    buf->len = 0;
    for (size_t i = 0; i != ncmds; ++i) {
        if (i != 0)
            kve_buf_putc(buf, ';');
        for (size_t j = 0; j != cmds[i].argc; ++j) {
            if (j != 0)
                kve_buf_putc(buf, ',');
            render_append(buf, cmds[i].argv[j], cmds[i].argvlen[j]);
        }
    }
    kve_buf_putc(buf, '\0');
    return buf->base;
}

/* parses `in` as one command; returns the rendering or the error text */
static const char *parse_one(kve_buf_t *buf, h2o_mem_pool_t *pool, const char *in, size_t len)
{
    guarded_t g;
    kve_rest_cmd_t cmd = {99, NULL, NULL};
    const char *err = NULL, *ret;

    int rc = kve_rest_parse_command(guard_copy(&g, in, len), len, pool, &cmd, &err);
    if (rc == 0) {
        CHECK_NULL(err);
        ret = render(buf, &cmd, 1);
    } else {
        CHECK_EQ_INT(rc, -1);
        ret = err != NULL ? err : "(no error text)";
    }
    guard_free(&g);
    return ret;
}

static const struct {
    const char *in;
    const char *want; /* the rendered command, or the exact error text */
} command_cases[] = {
    {"[\"SET\",\"k\",\"v\"]", "SET,k,v"},
    {"[\"SET\",\"n\",100]", "SET,n,100"},
    {"[\"INCRBYFLOAT\",\"n\",0.5]", "INCRBYFLOAT,n,0.5"},
    {"[\"SET\",\"n\",1e+21]", "SET,n,1e+21"},
    {"[\"SET\",\"n\",-0]", "SET,n,-0"},
    {"[\"SET\",\"n\",1.50]", "SET,n,1.50"},
    {"[0,-12.5e3,1E-7,123456789012345678901234567890]", "0,-12.5e3,1E-7,123456789012345678901234567890"},
    {"[\"SET\",\"b\",true]", "SET,b,true"},
    {"[false,true]", "false,true"},
    {" \t\r\n[ \"a\" , 1 ,\ttrue\n,\r\"b\"] \n", "a,1,true,b"},
    {"[\"\"]", ""},
    {"[\"\",\"\"]", ","},
    {"[\"a\\nb\\\"c\\\\d\\/e\\b\\f\\r\\t\"]", "a\\x0ab\"c\\x5cd/e\\x08\\x0c\\x0d\\x09"},
    {"[\"\\u0041\\u00e9\\u20AC\"]", "A\\xc3\\xa9\\xe2\\x82\\xac"},
    {"[\"\\ud83d\\ude00\"]", "\\xf0\\x9f\\x98\\x80"},
    {"[\"\\uD83D\\uDE00x\"]", "\\xf0\\x9f\\x98\\x80x"},
    {"[\"\xf0\x9f\x98\x80\"]", "\\xf0\\x9f\\x98\\x80"},
    {"[\"\\udbff\\udfff\"]", "\\xf4\\x8f\\xbf\\xbf"},
    {"[\"\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\xef\xbf\xbf\"]", "\\xc3\\xa9\\xe2\\x82\\xac\\xf4\\x8f\\xbf\\xbf\\xef\\xbf\\xbf"},
    {"[\"x\x7f\"]", "x\\x7f"},
    {"[\"\\u0000\"]", "\\x00"},
    /* not an array at all */
    {"", NOT_ARRAY},
    {" \n ", NOT_ARRAY},
    {"{}", NOT_ARRAY},
    {"\"x\"", NOT_ARRAY},
    {"42", NOT_ARRAY},
    {"null", NOT_ARRAY},
    /* empty */
    {"[]", "ERR empty command"},
    {" [ \n ] ", "ERR empty command"},
    /* syntax, with byte offsets */
    {"[", "ERR invalid JSON at byte 1: unexpected end of input"},
    {"[ ", "ERR invalid JSON at byte 2: unexpected end of input"},
    {"[\"a\",]", "ERR invalid JSON at byte 5: expected a value"},
    {"[\"a\",", "ERR invalid JSON at byte 5: unexpected end of input"},
    {"[\"a\"", "ERR invalid JSON at byte 4: unexpected end of input"},
    {"[\"a\" \"b\"]", "ERR invalid JSON at byte 5: expected ',' or ']'"},
    {"[\"a\":1]", "ERR invalid JSON at byte 4: expected ',' or ']'"},
    {"[,]", "ERR invalid JSON at byte 1: expected a value"},
    {"[\"a\",,\"b\"]", "ERR invalid JSON at byte 5: expected a value"},
    {"[\"a\"] x", "ERR unexpected data after the JSON value at byte 6"},
    {"[\"a\"]]", "ERR unexpected data after the JSON value at byte 5"},
    {"[\"a\"][]", "ERR unexpected data after the JSON value at byte 5"},
    {"[\"a", "ERR invalid JSON at byte 1: unterminated string"},
    {"[\"abc\\\"]", "ERR invalid JSON at byte 1: unterminated string"},
    {"['a']", "ERR invalid JSON at byte 1: expected a value"},
    {"[tru]", "ERR invalid JSON at byte 1: expected a value"},
    {"[tru", "ERR invalid JSON at byte 1: expected a value"},
    {"[True]", "ERR invalid JSON at byte 1: expected a value"},
    {"[nul]", "ERR invalid JSON at byte 1: expected a value"},
    {"[truex]", "ERR invalid JSON at byte 5: expected ',' or ']'"},
    {"[undefined]", "ERR invalid JSON at byte 1: expected a value"},
    /* numbers */
    {"[01]", "ERR invalid JSON at byte 1: invalid number"},
    {"[-01]", "ERR invalid JSON at byte 1: invalid number"},
    {"[1.]", "ERR invalid JSON at byte 1: invalid number"},
    {"[1.e5]", "ERR invalid JSON at byte 1: invalid number"},
    {"[-]", "ERR invalid JSON at byte 1: invalid number"},
    {"[-", "ERR invalid JSON at byte 1: invalid number"},
    {"[1e]", "ERR invalid JSON at byte 1: invalid number"},
    {"[1e+]", "ERR invalid JSON at byte 1: invalid number"},
    {"[1.5.2]", "ERR invalid JSON at byte 1: invalid number"},
    {"[1e5e5]", "ERR invalid JSON at byte 1: invalid number"},
    {"[\"a\",2-1]", "ERR invalid JSON at byte 5: invalid number"},
    {"[-a]", "ERR invalid JSON at byte 1: invalid number"},
    {"[1", "ERR invalid JSON at byte 2: unexpected end of input"},
    {"[.5]", "ERR invalid JSON at byte 1: expected a value"},
    {"[+1]", "ERR invalid JSON at byte 1: expected a value"},
    {"[0x10]", "ERR invalid JSON at byte 2: expected ',' or ']'"},
    {"[NaN]", "ERR invalid JSON at byte 1: expected a value"},
    {"[Infinity]", "ERR invalid JSON at byte 1: expected a value"},
    /* argument types */
    {"[\"SET\",\"k\",null]", "ERR argument 3 is null"},
    {"[null]", "ERR argument 1 is null"},
    {"[\"a\",[1]]", "ERR argument 2 is an array" NOT_SCALAR},
    {"[\"a\",[]]", "ERR argument 2 is an array" NOT_SCALAR},
    {"[\"a\",[[[[[[[[[[[[", "ERR argument 2 is an array" NOT_SCALAR},
    {"[[\"SET\",\"a\",\"1\"]]", "ERR argument 1 is an array" NOT_SCALAR},
    {"[\"a\",\"b\",{\"x\":1}]", "ERR argument 3 is an object" NOT_SCALAR},
    {"[\"a\",{}]", "ERR argument 2 is an object" NOT_SCALAR},
    /* strings: control characters, escapes, surrogates */
    {"[\"a\x01\"]", "ERR invalid JSON at byte 3: control character in string"},
    {"[\"a\nb\"]", "ERR invalid JSON at byte 3: control character in string"},
    {"[\"\\n\t\"]", "ERR invalid JSON at byte 4: control character in string"},
    {"[\"\\x\"]", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"ab\\'\"]", "ERR invalid escape in a JSON string at byte 4"},
    {"[\"\\U0041\"]", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"\\u12\"]", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"\\u12g4\"]", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"\\u12", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"\\", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"\\ud800\"]", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"\\ud800", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"x\\ud800x\"]", "ERR invalid escape in a JSON string at byte 3"},
    {"[\"\\ud800\\u0041\"]", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"\\ud83d\\ud83d\"]", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"\\ud83d\\n\"]", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"\\ude00\"]", "ERR invalid escape in a JSON string at byte 2"},
    {"[\"\\ude00\\ud83d\"]", "ERR invalid escape in a JSON string at byte 2"},
    /* raw UTF-8 */
    {"[\"\xff\"]", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"ok\",\"ab\x80\"]", "ERR invalid UTF-8 in a JSON string at byte 9"},
    {"[\"ab\xc0\xaf\"]", "ERR invalid UTF-8 in a JSON string at byte 4"},
    {"[\"\xc1\xbf\"]", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"\xe0\x80\xaf\"]", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"\xe0\x9f\xbf\"]", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"\xed\xa0\x80\"]", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"\xed\xbf\xbf\"]", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"\xf0\x8f\xbf\xbf\"]", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"\xf4\x90\x80\x80\"]", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"\xf5\x80\x80\x80\"]", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"\xe2\x82\"]", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"\xe2\x82", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"\xf0\x9f\x98", "ERR invalid UTF-8 in a JSON string at byte 2"},
    {"[\"\\n\xe2\x28\xa1\"]", "ERR invalid UTF-8 in a JSON string at byte 4"},
};

TEST(command_table)
{
    kve_buf_t buf = KVE_BUF_INIT;
    h2o_mem_pool_t pool;

    h2o_mem_init_pool(&pool);
    for (size_t i = 0; i != KVE_ARRAY_SIZE(command_cases); ++i) {
        const char *got = parse_one(&buf, &pool, command_cases[i].in, strlen(command_cases[i].in));
        if (strcmp(got, command_cases[i].want) != 0)
            fprintf(stderr, "    case %zu: %s\n", i, command_cases[i].in);
        CHECK_EQ_STR(got, command_cases[i].want);
    }
    h2o_mem_clear_pool(&pool);
    kve_buf_dispose(&buf);
}

/* strings are decoded in place; argvlen counts a NUL inside an argument */
TEST(command_in_place_and_nul)
{
    static const char in[] = "[\"SET\",\"a\\u0000b\",\"x\\\"y\"]";
    h2o_mem_pool_t pool;
    kve_rest_cmd_t cmd;
    const char *err = NULL;
    guarded_t g;
    char *body = guard_copy(&g, in, sizeof(in) - 1);

    h2o_mem_init_pool(&pool);
    CHECK_EQ_INT(kve_rest_parse_command(body, sizeof(in) - 1, &pool, &cmd, &err), 0);
    CHECK_EQ_UINT(cmd.argc, 3);
    CHECK_EQ_MEM(cmd.argv[1], cmd.argvlen[1], "a\0b", 3);
    CHECK_EQ_MEM(cmd.argv[2], cmd.argvlen[2], "x\"y", 3);
    for (size_t i = 0; i != cmd.argc; ++i)
        CHECK(cmd.argv[i] >= body && cmd.argv[i] + cmd.argvlen[i] <= body + sizeof(in) - 1);
    guard_free(&g);
    h2o_mem_clear_pool(&pool);
}

/* the argument arrays grow past their first capacity; a long string crosses the guard page */
TEST(command_many_args_and_long_string)
{
    kve_buf_t in = KVE_BUF_INIT;
    h2o_mem_pool_t pool;
    kve_rest_cmd_t cmd;
    const char *err = NULL;
    guarded_t g;
    size_t i, big = 100000;

    kve_buf_append(&in, KVE_STRLIT("[\"MSET\""));
    for (i = 0; i != 500; ++i)
        kve_buf_printf(&in, ",\"k%zu\",%zu", i, i);
    kve_buf_append(&in, KVE_STRLIT(",\""));
    for (i = 0; i != big; ++i)
        kve_buf_putc(&in, (char)('a' + i % 26));
    kve_buf_append(&in, KVE_STRLIT("\\n\"]"));

    h2o_mem_init_pool(&pool);
    CHECK_EQ_INT(kve_rest_parse_command(guard_copy(&g, in.base, in.len), in.len, &pool, &cmd, &err), 0);
    CHECK_EQ_UINT(cmd.argc, 1002);
    CHECK_EQ_MEM(cmd.argv[0], cmd.argvlen[0], "MSET", 4);
    CHECK_EQ_MEM(cmd.argv[999], cmd.argvlen[999], "k499", 4);
    CHECK_EQ_MEM(cmd.argv[1000], cmd.argvlen[1000], "499", 3);
    CHECK_EQ_UINT(cmd.argvlen[1001], big + 1);
    CHECK_EQ_INT(cmd.argv[1001][big - 1], 'a' + (big - 1) % 26);
    CHECK_EQ_INT(cmd.argv[1001][big], '\n');
    guard_free(&g);
    h2o_mem_clear_pool(&pool);
    kve_buf_dispose(&in);
}

/* every prefix of a valid body is rejected without reading past its end (the guard page would fault) */
TEST(command_truncations)
{
    static const char in[] = " [\"SET\", \"k\\u00e9\\ud83d\\ude00\xc3\xa9\", -12.5e+3, true, false, \"\\n\"] ";
    kve_buf_t buf = KVE_BUF_INIT;
    h2o_mem_pool_t pool;

    h2o_mem_init_pool(&pool);
    for (size_t len = 0; len != (size_t)(strrchr(in, ']') - in); ++len) {
        const char *got = parse_one(&buf, &pool, in, len);
        CHECK(strncmp(got, "ERR ", 4) == 0);
    }
    CHECK_EQ_STR(parse_one(&buf, &pool, in, sizeof(in) - 1),
                 "SET,k\\xc3\\xa9\\xf0\\x9f\\x98\\x80\\xc3\\xa9,-12.5e+3,true,false,\\x0a");
    h2o_mem_clear_pool(&pool);
    kve_buf_dispose(&buf);
}

static const char *parse_many(kve_buf_t *buf, h2o_mem_pool_t *pool, const char *in, size_t len, size_t max)
{
    guarded_t g;
    kve_rest_cmd_t *cmds = NULL;
    size_t n = 0;
    const char *err = NULL, *ret;

    if (kve_rest_parse_commands(guard_copy(&g, in, len), len, pool, max, &cmds, &n, &err) == 0) {
        CHECK_NULL(err);
        ret = render(buf, cmds, n);
    } else {
        ret = err != NULL ? err : "(no error text)";
    }
    guard_free(&g);
    return ret;
}

static const struct {
    const char *in;
    const char *want;
} pipeline_cases[] = {
    {"[[\"SET\",\"a\",\"1\"],[\"GET\",\"a\"]]", "SET,a,1;GET,a"},
    {" \n[ [ \"a\" ] ,\t[ \"b\" , 1 , true ] ]\r\n", "a;b,1,true"},
    {"[[\"x\",\"\\u00e9\"]]", "x,\\xc3\\xa9"},
    {"[]", "ERR empty pipeline"},
    {"[ \n ]", "ERR empty pipeline"},
    {"[[]]", "ERR command 1 is empty"},
    {"[[\"a\"],[ ]]", "ERR command 2 is empty"},
    {"[[\"a\"],\"b\"]", "ERR command 2 must be a JSON array"},
    {"[\"GET\",\"a\"]", "ERR command 1 must be a JSON array"},
    {"[1]", "ERR command 1 must be a JSON array"},
    {"[null]", "ERR command 1 must be a JSON array"},
    {"[{}]", "ERR command 1 must be a JSON array"},
    {"[[\"a\",null]]", "ERR command 1: argument 2 is null"},
    {"[[\"a\"],[\"b\",\"c\",null]]", "ERR command 2: argument 3 is null"},
    {"[[\"a\"],[\"b\",[1]]]", "ERR command 2: argument 2 is an array" NOT_SCALAR},
    {"[[\"a\"],[\"b\",{}]]", "ERR command 2: argument 2 is an object" NOT_SCALAR},
    {"[[\"a\"],[\"b\x01\"]]", "ERR command 2: invalid JSON at byte 10: control character in string"},
    {"[[\"a\"],[\"\\ud800\"]]", "ERR command 2: invalid escape in a JSON string at byte 9"},
    {"[[\"a\"],[\"\xff\"]]", "ERR command 2: invalid UTF-8 in a JSON string at byte 9"},
    {"[[\"a\" 1]]", "ERR command 1: invalid JSON at byte 6: expected ',' or ']'"},
    {"[[\"a\"],]", "ERR invalid JSON at byte 7: expected a value"},
    {"[,]", "ERR invalid JSON at byte 1: expected a value"},
    {"[[\"a\"]", "ERR invalid JSON at byte 6: unexpected end of input"},
    {"[[\"a\"],", "ERR invalid JSON at byte 7: unexpected end of input"},
    {"[", "ERR invalid JSON at byte 1: unexpected end of input"},
    {"[[\"a\"] [\"b\"]]", "ERR invalid JSON at byte 7: expected ',' or ']'"},
    {"[[\"a\"]] x", "ERR unexpected data after the JSON value at byte 8"},
    {"", NOT_PIPELINE},
    {"{}", NOT_PIPELINE},
    {"\"x\"", NOT_PIPELINE},
};

TEST(pipeline_table)
{
    kve_buf_t buf = KVE_BUF_INIT;
    h2o_mem_pool_t pool;

    h2o_mem_init_pool(&pool);
    for (size_t i = 0; i != KVE_ARRAY_SIZE(pipeline_cases); ++i) {
        const char *got = parse_many(&buf, &pool, pipeline_cases[i].in, strlen(pipeline_cases[i].in), 1000);
        if (strcmp(got, pipeline_cases[i].want) != 0)
            fprintf(stderr, "    case %zu: %s\n", i, pipeline_cases[i].in);
        CHECK_EQ_STR(got, pipeline_cases[i].want);
    }
    h2o_mem_clear_pool(&pool);
    kve_buf_dispose(&buf);
}

/* n commands ["INCR","p<i>",<i>] */
static void build_pipeline(kve_buf_t *in, size_t n)
{
    in->len = 0;
    kve_buf_putc(in, '[');
    for (size_t i = 0; i != n; ++i)
        kve_buf_printf(in, "%s[\"INCR\",\"p%zu\",%zu]", i == 0 ? "" : ",", i, i);
    kve_buf_putc(in, ']');
}

TEST(pipeline_limits)
{
    kve_buf_t in = KVE_BUF_INIT, buf = KVE_BUF_INIT;
    h2o_mem_pool_t pool;
    kve_rest_cmd_t *cmds = NULL;
    size_t n = 0;
    const char *err = NULL;
    guarded_t g;

    h2o_mem_init_pool(&pool);
    build_pipeline(&in, 1000);
    CHECK_EQ_INT(kve_rest_parse_commands(guard_copy(&g, in.base, in.len), in.len, &pool, 1000, &cmds, &n, &err), 0);
    CHECK_EQ_UINT(n, 1000);
    for (size_t i = 0; i != n; ++i) {
        char key[16], num[16];
        int klen = snprintf(key, sizeof(key), "p%zu", i), nlen = snprintf(num, sizeof(num), "%zu", i);
        CHECK_EQ_UINT(cmds[i].argc, 3);
        CHECK_EQ_MEM(cmds[i].argv[0], cmds[i].argvlen[0], "INCR", 4);
        CHECK_EQ_MEM(cmds[i].argv[1], cmds[i].argvlen[1], key, (size_t)klen);
        CHECK_EQ_MEM(cmds[i].argv[2], cmds[i].argvlen[2], num, (size_t)nlen);
    }
    guard_free(&g); /* the arguments point into the body */
    CHECK_EQ_STR(parse_many(&buf, &pool, in.base, in.len, 999), "ERR too many commands in one request: more than 999");
    build_pipeline(&in, 1001);
    CHECK_EQ_STR(parse_many(&buf, &pool, in.base, in.len, 1000), "ERR too many commands in one request: more than 1000");
    build_pipeline(&in, 2);
    CHECK_EQ_STR(parse_many(&buf, &pool, in.base, in.len, 2), "INCR,p0,0;INCR,p1,1");
    CHECK_EQ_STR(parse_many(&buf, &pool, in.base, in.len, 1), "ERR too many commands in one request: more than 1");
    h2o_mem_clear_pool(&pool);
    kve_buf_dispose(&in);
    kve_buf_dispose(&buf);
}

static const struct {
    const char *path;
    const char *query; /* NULL: none */
    const char *body;  /* NULL: none */
    const char *want;
} path_cases[] = {
    {"/set/foo/bar", NULL, NULL, "set,foo,bar"},
    {"/SET/a%2Fb/x", NULL, NULL, "SET,a/b,x"},
    {"/get/foo/", NULL, NULL, "get,foo"},
    {"/get/foo//", NULL, NULL, "get,foo,"},
    {"/set//x", NULL, NULL, "set,,x"},
    {"//x", NULL, NULL, ",x"},
    {"get/foo", NULL, NULL, "get,foo"},
    {"/ping", NULL, NULL, "ping"},
    {"/set/a+b/c%20d", NULL, NULL, "set,a+b,c d"},
    {"/set/%41%62%2f%2F/%00", NULL, NULL, "set,Ab//,\\x00"},
    {"/set/%e2%82%AC", NULL, NULL, "set,\\xe2\\x82\\xac"},
    {"/", NULL, NULL, "ERR empty command"},
    {"", NULL, NULL, "ERR empty command"},
    {"//", NULL, NULL, "ERR empty command"},
    {"/", "a=b", "v", "ERR empty command"},
    {"/set/k", NULL, "v", "set,k,v"},
    {"/set/j", NULL, "{\"a\":1}", "set,j,{\"a\":1}"},
    {"/set/j", NULL, "%41+", "set,j,%41+"},
    {"/set/q", "EX=100&NX", "v", "set,q,v,EX,100,NX"},
    {"/set/q", "EX=100", NULL, "set,q,EX,100"},
    {"/set/q", "", NULL, "set,q"},
    {"/set/q", "a+b=c+d%2B", NULL, "set,q,a b,c d+"},
    {"/get/foo", "_token=abc", NULL, "get,foo"},
    {"/set/q", "EX=1&_token=abc&NX", "v", "set,q,v,EX,1,NX"},
    {"/set/q", "_token=abc&NX", NULL, "set,q,NX"},
    {"/set/q", "%5Ftoken=abc", NULL, "set,q"},
    {"/set/q", "_token", NULL, "set,q"},
    {"/set/q", "_token=%zz", NULL, "set,q"},
    {"/set/q", "_tokenx=1&x_token=2", NULL, "set,q,_tokenx,1,x_token,2"},
    {"/set/q", "a&&b&", NULL, "set,q,a,b"},
    {"/set/q", "&", NULL, "set,q"},
    {"/set/q", "a=", NULL, "set,q,a,"},
    {"/set/q", "=v", NULL, "set,q,,v"},
    {"/set/q", "a=b=c", NULL, "set,q,a,b=c"},
    {"/get/%zz", NULL, NULL, BAD_PERCENT},
    {"/get/%4", NULL, NULL, BAD_PERCENT},
    {"/get/a%", NULL, NULL, BAD_PERCENT},
    {"/get/%%41", NULL, NULL, BAD_PERCENT},
    {"/get/a", "x=%zz", NULL, BAD_PERCENT},
    {"/get/a", "x%4=1", NULL, BAD_PERCENT},
    {"/get/a", "x=%", NULL, BAD_PERCENT},
};

TEST(path_table)
{
    kve_buf_t buf = KVE_BUF_INIT;
    h2o_mem_pool_t pool;

    h2o_mem_init_pool(&pool);
    for (size_t i = 0; i != KVE_ARRAY_SIZE(path_cases); ++i) {
        guarded_t gp, gq;
        const char *q = path_cases[i].query, *b = path_cases[i].body, *err = NULL, *got;
        size_t plen = strlen(path_cases[i].path), qlen = q != NULL ? strlen(q) : 0, blen = b != NULL ? strlen(b) : 0;
        char *path = guard_copy(&gp, path_cases[i].path, plen), *query = guard_copy(&gq, q != NULL ? q : "", qlen);
        kve_rest_cmd_t cmd;
        if (kve_rest_parse_path(path, plen, q != NULL ? query : NULL, qlen, b, blen, &pool, &cmd, &err) == 0) {
            got = render(&buf, &cmd, 1);
            CHECK(memcmp(path, path_cases[i].path, plen) == 0); /* not modified */
            CHECK(qlen == 0 || memcmp(query, q, qlen) == 0);
        } else {
            got = err;
        }
        if (strcmp(got, path_cases[i].want) != 0)
            fprintf(stderr, "    case %zu: %s ? %s\n", i, path_cases[i].path, q != NULL ? q : "(null)");
        CHECK_EQ_STR(got, path_cases[i].want);
        guard_free(&gp);
        guard_free(&gq);
    }
    h2o_mem_clear_pool(&pool);
    kve_buf_dispose(&buf);
}

/* the body is appended as raw bytes (a NUL included), pointing at the caller's memory */
TEST(path_binary_body)
{
    static const char body[] = "a\0\"b\xff";
    h2o_mem_pool_t pool;
    kve_rest_cmd_t cmd;
    const char *err = NULL;

    h2o_mem_init_pool(&pool);
    CHECK_EQ_INT(kve_rest_parse_path(KVE_STRLIT("/set/k"), "NX", 2, body, sizeof(body) - 1, &pool, &cmd, &err), 0);
    CHECK_EQ_UINT(cmd.argc, 4);
    CHECK(cmd.argv[2] == body);
    CHECK_EQ_UINT(cmd.argvlen[2], 5);
    CHECK_EQ_MEM(cmd.argv[3], cmd.argvlen[3], "NX", 2);
    /* a NULL query is no query, whatever its length says */
    CHECK_EQ_INT(kve_rest_parse_path(KVE_STRLIT("/get/k"), NULL, 10, NULL, 0, &pool, &cmd, &err), 0);
    CHECK_EQ_UINT(cmd.argc, 2);
    h2o_mem_clear_pool(&pool);
}

static const struct {
    const char *query; /* NULL: no query */
    const char *name;
    const char *want; /* NULL: not found (-1) */
} param_cases[] = {
    {"_token=abc", "_token", "abc"},
    {"a=1&_token=abc%3D%3D&b=2", "_token", "abc=="},
    {"a=1", "_token", NULL},
    {"", "_token", NULL},
    {NULL, "_token", NULL},
    {"_token", "_token", ""},
    {"_token=", "_token", ""},
    {"_token=%zz", "_token", NULL},
    {"_token=%4", "_token", NULL},
    {"%5Ftoken=x", "_token", "x"},
    {"_tokenx=1&x_token=2&_token=y", "_token", "y"},
    {"_toke=1&_token2=2", "_token", NULL},
    {"_token=a&_token=b", "_token", "a"},
    {"_token=a+b%2Bc", "_token", "a+b+c"},
    {"&&_token=z&", "_token", "z"},
    {"EX=100", "EX", "100"},
    {"ex=100", "EX", NULL},
    {"a+b=1", "a b", "1"},
};

TEST(query_param)
{
    h2o_mem_pool_t pool;

    h2o_mem_init_pool(&pool);
    for (size_t i = 0; i != KVE_ARRAY_SIZE(param_cases); ++i) {
        const char *q = param_cases[i].query;
        size_t qlen = q != NULL ? strlen(q) : 0;
        guarded_t g;
        h2o_iovec_t v = {NULL, 0};
        int rc = kve_rest_query_param(q != NULL ? guard_copy(&g, q, qlen) : NULL, qlen, param_cases[i].name, &pool, &v);
        if (param_cases[i].want == NULL) {
            CHECK_EQ_INT(rc, -1);
        } else {
            CHECK_EQ_INT(rc, 0);
            CHECK_EQ_MEM(v.base, v.len, param_cases[i].want, strlen(param_cases[i].want));
            CHECK(rc != 0 || v.base[v.len] == '\0');
        }
        if (q != NULL)
            guard_free(&g);
    }
    h2o_mem_clear_pool(&pool);
}

void kve_suite_kv_json(void)
{
    RUN(command_table);
    RUN(command_in_place_and_nul);
    RUN(command_many_args_and_long_string);
    RUN(command_truncations);
    RUN(pipeline_table);
    RUN(pipeline_limits);
    RUN(path_table);
    RUN(path_binary_body);
    RUN(query_param);
}
