/* SPDX-License-Identifier: MIT */
/* The budget of request bytes no handler has seen yet (see pending.h). */
#include "proxy/pending.h"
#include "proxy/log.h"

void kve_pending_init(kve_pending_t *budget, size_t limit, size_t num_threads)
{
    *budget = (kve_pending_t){.limit = limit, .share = limit / (num_threads != 0 ? num_threads : 1)};
}

void kve_pending_thread_init(kve_pending_thread_t *thread, kve_pending_t *budget)
{
    thread->budget = budget;
    thread->total = 0;
    h2o_linklist_init_anchor(&thread->charged);
}

void kve_pending_conn_init(kve_pending_conn_t *conn, kve_pending_thread_t *thread, h2o_socket_t *sock)
{
    *conn = (kve_pending_conn_t){.magic = KVE_PENDING_CONN_MAGIC, .thread = thread, .sock = sock};
}

/* an episode ends when the total falls under half the limit (hysteresis: no line per refusal at the edge) */
static void end_episode(kve_pending_t *b, size_t total)
{
    uint64_t refused;
    if (total >= b->limit / 2 || !__atomic_load_n(&b->refusing, __ATOMIC_RELAXED) ||
        !__atomic_exchange_n(&b->refusing, 0, __ATOMIC_RELAXED))
        return;
    refused = __atomic_exchange_n(&b->refused, 0, __ATOMIC_RELAXED);
    kve_log(KVE_LOG_INFO, "limits",
            "requests being received are back under half of limits.max_pending_size: refused %llu connection%s",
            (unsigned long long)refused, refused == 1 ? "" : "s");
}

/* sets the charge of `conn` to `allocated`; returns the new total of all threads */
static size_t set_charge(kve_pending_conn_t *conn, size_t allocated)
{
    kve_pending_t *b = conn->thread->budget;
    size_t total;

    if (allocated > conn->charged) {
        total = __atomic_add_fetch(&b->total, allocated - conn->charged, __ATOMIC_RELAXED);
    } else {
        total = __atomic_sub_fetch(&b->total, conn->charged - allocated, __ATOMIC_RELAXED);
        end_episode(b, total);
    }
    conn->thread->total = conn->thread->total - conn->charged + allocated;
    if (conn->charged == 0 && allocated != 0)
        h2o_linklist_insert(&conn->thread->charged, &conn->link);
    else if (conn->charged != 0 && allocated == 0)
        h2o_linklist_unlink(&conn->link);
    conn->charged = allocated;
    return total;
}

static void log_refusal(kve_pending_t *b)
{
    __atomic_add_fetch(&b->refused, 1, __ATOMIC_RELAXED);
    if (__atomic_exchange_n(&b->refusing, 1, __ATOMIC_RELAXED) == 0)
        kve_log(KVE_LOG_WARN, "limits",
                "requests being received hold more than limits.max_pending_size (%zu bytes): refusing the largest with 503 "
                "until they hold less than half of it",
                b->limit);
}

void kve_pending_refuse(kve_pending_conn_t *conn)
{
    conn->refused = 1;
    conn->bytes = 0;
    log_refusal(conn->thread->budget); /* first: if this refusal ends the episode, its count includes it */
    set_charge(conn, 0);
}

kve_pending_conn_t *kve_pending_largest(kve_pending_thread_t *thread, kve_pending_conn_t *reader)
{
    kve_pending_conn_t *best = reader;
    for (h2o_linklist_t *node = thread->charged.next; node != &thread->charged; node = node->next) {
        kve_pending_conn_t *c = H2O_STRUCT_FROM_MEMBER(kve_pending_conn_t, link, node);
        if (best == NULL || c->bytes > best->bytes)
            best = c;
    }
    return best;
}

int kve_pending_over(const kve_pending_thread_t *thread)
{
    const kve_pending_t *b = thread->budget;
    return b->limit != 0 && thread->total > b->share && __atomic_load_n(&b->total, __ATOMIC_RELAXED) > b->limit;
}

int kve_pending_update(kve_pending_conn_t *conn, size_t allocated, size_t bytes)
{
    kve_pending_t *b = conn->thread->budget;

    if (conn->refused)
        return -1;
    conn->bytes = bytes;
    if (b->limit == 0 || allocated == conn->charged)
        return 0;
    if (allocated < conn->charged) {
        set_charge(conn, allocated);
        return 0;
    }
    return set_charge(conn, allocated) > b->limit && conn->thread->total > b->share;
}

void kve_pending_release(kve_pending_conn_t *conn)
{
    conn->bytes = 0;
    if (conn->charged != 0)
        set_charge(conn, 0);
}
