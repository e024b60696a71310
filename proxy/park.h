/* SPDX-License-Identifier: MIT */
/*
 * Keeping an HTTP/1 client socket polled while its request waits for something asynchronous (Redis).
 *
 * libh2o 2.2.5 stops reading an HTTP/1 socket when it hands a request to a handler and starts again after
 * the response. Its epoll backend applies such changes lazily, at the start of the next loop iteration,
 * so a request answered in the same iteration costs nothing, but one that waits for Redis costs two
 * epoll_ctl calls: measured as the largest syscall cost of a KV GET after the read and the write.
 *
 * "Parking" re-arms reading right after h2o stopped it, with H2O_SOCKET_FLAG_DONT_READ set so h2o never
 * reads into the input buffer the request still points into (a read could move that buffer), and with a
 * callback that only undoes the parking if the socket turns readable (a pipelined request or a hangup).
 * "Unparking" right before the final send restores h2o's state; when h2o then finishes the write within
 * the same iteration and starts reading for the next request, the epoll registration never changed.
 * Only plain and TLS HTTP/1 sockets are parked; anything else is left alone.
 */
#ifndef KVE_PROXY_PARK_H
#define KVE_PROXY_PARK_H

#include "h2o.h"

/** Parks the socket of `req` if it is HTTP/1 and not reading; returns the socket (NULL if not parked). */
h2o_socket_t *kve_park(h2o_req_t *req);

/** Undoes kve_park (no-op if the park was already undone). Call before the response is sent. */
void kve_unpark(h2o_socket_t *sock);

/** Whether `sock` is parked: a request is in flight on it although it looks idle (reading, nothing buffered). */
int kve_is_parked(h2o_socket_t *sock);

#endif
