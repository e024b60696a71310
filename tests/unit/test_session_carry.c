/* SPDX-License-Identifier: MIT */
/*
 * Tests of the login carry-over (issue 10, docs/sessions.md §7; handlers/session_carry.c): which data of LOAD's reply is
 * kept (listed keys or "*", anonymous sessions only, write routes only) and how it merges under a Login's data (the
 * Login wins, null included; past max_data nothing is carried).
 */
#include "test.h"
#include "handlers/session_carry.h"

#include <string.h>

static kve_kv_reply_t strs[16], *elems[16], reply;

/* LOAD's reply: HGETALL pairs of `n` strings */
static const kve_kv_reply_t *pairs(const char *const *v, size_t n)
{
    for (size_t i = 0; i != n; ++i) {
        strs[i] = (kve_kv_reply_t){.type = KVE_REPLY_STRING, .len = strlen(v[i]), .str = (char *)v[i]};
        elems[i] = &strs[i];
    }
    reply = (kve_kv_reply_t){.type = KVE_REPLY_ARRAY, .elements = n, .element = elems};
    return &reply;
}

typedef struct st_fixture_t {
    h2o_req_t req;
    kve_session_conf_t conf;
    kve_session_handler_t self;
    kve_session_req_t st;
} fixture_t;

static void setup(fixture_t *f, char **keys, size_t nkeys, int write)
{
    memset(f, 0, sizeof(*f));
    h2o_mem_init_pool(&f->req.pool);
    f->conf.write = write;
    f->conf.max_data = 4096;
    f->conf.login_carry.entries = keys;
    f->conf.login_carry.size = nkeys;
    f->self.conf = &f->conf;
    f->self.aud = "/app";
    f->st.req = &f->req;
    f->st.self = &f->self;
    f->st.status = KVE_SESSION_ACTIVE;
}

static const char *const anon[] = {"v", "1", "d:cart", "[1,2]", "d:theme", "\"dark\"", "ver", "3"};
static const char *const user[] = {"v", "1", "uid", "alice", "d:cart", "[1,2]"};

TEST(keep)
{
    fixture_t f;
    char *cart[] = {"cart"}, *all[] = {"*"};

    setup(&f, cart, 1, 1);
    kve_session__carry_keep(&f.st, pairs(anon, 8));
    CHECK_EQ_UINT(f.st.carry_size, 1);
    CHECK_EQ_MEM(f.st.carry[0].base, f.st.carry[0].len, "cart", 4);
    CHECK_EQ_MEM(f.st.carry[1].base, f.st.carry[1].len, "[1,2]", 5);
    h2o_mem_clear_pool(&f.req.pool);

    setup(&f, all, 1, 1);
    kve_session__carry_keep(&f.st, pairs(anon, 8));
    CHECK_EQ_UINT(f.st.carry_size, 2);
    h2o_mem_clear_pool(&f.req.pool);

    setup(&f, all, 1, 1);
    kve_session__carry_keep(&f.st, pairs(user, 6));
    CHECK_EQ_UINT(f.st.carry_size, 0); /* a logged-in session carries nothing */
    CHECK(f.st.carry == NULL);
    h2o_mem_clear_pool(&f.req.pool);

    setup(&f, all, 1, 0);
    kve_session__carry_keep(&f.st, pairs(anon, 8));
    CHECK_EQ_UINT(f.st.carry_size, 0); /* no write: no Login ever applies */
    h2o_mem_clear_pool(&f.req.pool);

    setup(&f, NULL, 0, 1);
    kve_session__carry_keep(&f.st, pairs(anon, 8));
    CHECK_EQ_UINT(f.st.carry_size, 0); /* the default: nothing */
    h2o_mem_clear_pool(&f.req.pool);
}

static char *dump(json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

TEST(merge)
{
    fixture_t f;
    char *all[] = {"*"}, *s;
    json_t *login = json_loads("{\"cart\":null,\"plan\":\"pro\"}", 0, NULL), *m;

    setup(&f, all, 1, 1);
    kve_session__carry_keep(&f.st, pairs(anon, 8));
    m = kve_session__carry_merge(&f.st, login);
    CHECK_EQ_STR((s = dump(m)), "{\"cart\":null,\"plan\":\"pro\",\"theme\":\"dark\"}"); /* the Login's null wins */
    free(s);
    json_decref(m);
    CHECK_EQ_STR((s = dump(login)), "{\"cart\":null,\"plan\":\"pro\"}"); /* the Login's object is left alone */
    free(s);

    m = kve_session__carry_merge(&f.st, NULL); /* a Login without data */
    CHECK_EQ_STR((s = dump(m)), "{\"cart\":[1,2],\"theme\":\"dark\"}");
    free(s);
    json_decref(m);

    f.conf.max_data = 4 + 5 + 5 + 6 - 1; /* "cart" [1,2] "theme" "dark", minus one: nothing carried */
    m = kve_session__carry_merge(&f.st, NULL);
    CHECK(m == NULL);
    m = kve_session__carry_merge(&f.st, login);
    CHECK(m == login);
    json_decref(m);
    f.conf.max_data += 1;
    m = kve_session__carry_merge(&f.st, NULL);
    CHECK(m != NULL && json_object_size(m) == 2);
    json_decref(m);

    f.st.status = KVE_SESSION_ANONYMOUS; /* no session loaded: nothing to carry */
    m = kve_session__carry_merge(&f.st, login);
    CHECK(m == login);
    json_decref(m);
    json_decref(login);
    h2o_mem_clear_pool(&f.req.pool);
}

void kve_suite_session_carry(void)
{
    RUN(keep);
    RUN(merge);
}
