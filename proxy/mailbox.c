/* SPDX-License-Identifier: MIT */
/*
 * Worker mailboxes (see mailbox.h). A post takes the mailbox's lock, so it either happens entirely before the close
 * (then the close waits for that mail) or sees the mailbox closed. The close drains by running the loop: the mail
 * was written to the queue's pipe before the close took the lock, so the loop is bound to see it.
 */
#include "proxy/mailbox.h"
#include "proxy/common.h"
#include "proxy/log.h"

/* how long a close waits for mail already posted (it is on the pipe: this is only a guard against a bug) */
#define CLOSE_WAIT_MS 5000

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    kve_mailbox_t *box = H2O_STRUCT_FROM_MEMBER(kve_mailbox_t, _receiver, receiver);
    int closing = !__atomic_load_n(&box->_open, __ATOMIC_ACQUIRE);

    while (!h2o_linklist_is_empty(messages)) {
        kve_mail_t *mail = H2O_STRUCT_FROM_MEMBER(kve_mail_t, _msg.link, messages->next);
        h2o_linklist_unlink(&mail->_msg.link);
        __atomic_sub_fetch(&box->_posted, 1, __ATOMIC_RELEASE);
        mail->on_deliver(mail, box->_owner, closing);
    }
}

void kve_mailbox_open(kve_mailbox_t *box, h2o_multithread_queue_t *queue, h2o_loop_t *loop, void *owner)
{
    pthread_mutex_init(&box->_mutex, NULL);
    box->_loop = loop;
    box->_owner = owner;
    box->_posted = 0;
    h2o_multithread_register_receiver(queue, &box->_receiver, on_messages);
    __atomic_store_n(&box->_open, 1, __ATOMIC_RELEASE);
}

int kve_mailbox_post(kve_mailbox_t *box, kve_mail_t *mail)
{
    int ret = -1;

    if (!__atomic_load_n(&box->_open, __ATOMIC_ACQUIRE)) /* never opened (its lock may not exist) or closed */
        return -1;
    pthread_mutex_lock(&box->_mutex);
    if (box->_open) {
        __atomic_add_fetch(&box->_posted, 1, __ATOMIC_RELAXED);
        mail->_msg.link = (h2o_linklist_t){NULL};
        h2o_multithread_send_message(&box->_receiver, &mail->_msg);
        ret = 0;
    }
    pthread_mutex_unlock(&box->_mutex);
    return ret;
}

void kve_mailbox_close(kve_mailbox_t *box)
{
    uint64_t deadline;

    if (!__atomic_load_n(&box->_open, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&box->_mutex);
    __atomic_store_n(&box->_open, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&box->_mutex);
    deadline = h2o_now(box->_loop) + CLOSE_WAIT_MS;
    while (__atomic_load_n(&box->_posted, __ATOMIC_ACQUIRE) != 0 && h2o_now(box->_loop) < deadline)
        h2o_evloop_run(box->_loop, 10);
    if (box->_posted != 0) { /* cannot happen: unregistering would assert in h2o; keep the receiver (and leak) instead */
        kve_log(KVE_LOG_ERROR, "mailbox", "%zu messages were never delivered", box->_posted);
        return;
    }
    h2o_multithread_unregister_receiver(box->_receiver.queue, &box->_receiver);
}

void kve_mailbox_dispose(kve_mailbox_t *box)
{
    if (box->_loop == NULL)
        return;
    KVE_ASSERT(!box->_open);
    pthread_mutex_destroy(&box->_mutex);
    box->_loop = NULL;
}
