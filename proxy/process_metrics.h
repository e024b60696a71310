/* SPDX-License-Identifier: MIT */
/*
 * The standard process_* series of the Prometheus client libraries (client_golang's process collector), read from
 * /proc/self at each scrape: process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds and process_start_time_seconds. Linux only; a series whose source cannot be read
 * is left out (a scrape never fails for it).
 */
#ifndef KVE_PROXY_PROCESS_METRICS_H
#define KVE_PROXY_PROCESS_METRICS_H

#include "proxy/buf.h"

/** Appends the process_* series of the calling process. */
void kve_process_metrics_render(kve_buf_t *buf);

#endif
