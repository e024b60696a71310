/* SPDX-License-Identifier: MIT */
/*
 * A worker thread's mailbox: any thread posts mail (kve_mail_t) that the owning thread handles on its own event
 * loop. This is how one thread gets work done with what only another thread may touch, such as that thread's store
 * links (a link belongs to one loop): /readyz asks every thread to PING its links.
 *
 * Built on the h2o context's multithread queue, plus a lock and an open flag so that mail posted to a thread that
 * is stopping is refused (the sender keeps it) instead of reaching a queue that is being disposed. Lifecycle, on the
 * owning thread: kve_mailbox_open() in the thread's start hook, kve_mailbox_close() in its stop hook (it refuses new
 * mail, then delivers what was already posted, with `closing` set, so no mail is lost); kve_mailbox_dispose() once
 * no thread can post any more (after the workers were joined). The mailbox's memory is the caller's (it lives in
 * kve_thread_t) and must stay valid while any thread may post to it.
 */
#ifndef KVE_PROXY_MAILBOX_H
#define KVE_PROXY_MAILBOX_H

#include <pthread.h>
#include <stddef.h>
#include "h2o.h"
#include "h2o/multithread.h"

typedef struct st_kve_mail_t kve_mail_t;

/**
 * One message. The sender allocates it (usually inside a struct of its own), sets on_deliver and posts it; from a
 * successful post until on_deliver runs it belongs to the mailbox. on_deliver runs once, on the owning thread:
 * `owner` is what kve_mailbox_open() was given; `closing` is 1 when the mailbox is closing (the thread is
 * stopping: answer without starting anything that needs the thread's loop later). Fields with `_` are private.
 */
struct st_kve_mail_t {
    h2o_multithread_message_t _msg;
    void (*on_deliver)(kve_mail_t *mail, void *owner, int closing);
};

typedef struct st_kve_mailbox_t {
    h2o_multithread_receiver_t _receiver;
    pthread_mutex_t _mutex;
    /** 1 between open and close (read and written under _mutex, and atomically) */
    int _open;
    /** mail posted and not delivered yet (atomic) */
    size_t _posted;
    h2o_loop_t *_loop;
    void *_owner;
} kve_mailbox_t;

/** Opens `box` (zeroed, or disposed) on the owning thread, on its context's `queue` and `loop`; `owner` goes to every on_deliver.
 */
void kve_mailbox_open(kve_mailbox_t *box, h2o_multithread_queue_t *queue, h2o_loop_t *loop, void *owner);

/**
 * From any thread: hands `mail` to `box`. Returns 0 (on_deliver will run on the owning thread), or -1 when the
 * mailbox is not open (never opened, or closing): the mail is still the caller's.
 */
int kve_mailbox_post(kve_mailbox_t *box, kve_mail_t *mail);

/**
 * On the owning thread, in its stop hook: refuses new mail, then runs the loop until every mail posted before is
 * delivered (with `closing` = 1), and unregisters from the queue.
 */
void kve_mailbox_close(kve_mailbox_t *box);

/** Frees the lock, once no thread can post to `box` any more (after close, once the workers were joined). */
void kve_mailbox_dispose(kve_mailbox_t *box);

#endif
