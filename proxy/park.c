/* SPDX-License-Identifier: MIT */
/* Parking HTTP/1 sockets while a request waits (see park.h). */
#include "proxy/park.h"
#include "proxy/h2o_private.h"

static void on_parked_readable(h2o_socket_t *sock, const char *err)
{
    kve_unpark(sock); /* h2o will see the data or the hangup when it reads again */
}

h2o_socket_t *kve_park(h2o_req_t *req)
{
    h2o_socket_t *sock;

    if (req->version >= 0x200 || req->conn->callbacks->get_socket == NULL ||
        (sock = req->conn->callbacks->get_socket(req->conn)) == NULL || h2o_socket_is_reading(sock))
        return NULL;
    h2o_socket_dont_read(sock, 1);
    h2o_socket_read_start(sock, on_parked_readable);
    return sock;
}

void kve_unpark(h2o_socket_t *sock)
{
    /* the installed reader tells whether it is still parked (no other reader installs this callback) */
    if (sock == NULL || !kve_is_parked(sock))
        return;
    h2o_socket_read_stop(sock);
    h2o_socket_dont_read(sock, 0);
}

int kve_is_parked(h2o_socket_t *sock)
{
    return kve_h2o_socket_reader(sock) == on_parked_readable;
}
