/* SPDX-License-Identifier: MIT */
/* Messages and HTTP statuses of the KVE_E* codes, generated from KVE_ERRNO_MAP. */
#include "proxy/err.h"

const char *kve_strerror(int err)
{
    switch (err) {
    case KVE_OK:
        return "success";
#define KVE_ERR_MSG(name, status, msg)                                                                                             \
    case KVE_E##name:                                                                                                              \
        return msg;
        KVE_ERRNO_MAP(KVE_ERR_MSG)
#undef KVE_ERR_MSG
    default:
        return "unknown error";
    }
}

int kve_err_http_status(int err)
{
    switch (err) {
    case KVE_OK:
        return 200;
#define KVE_ERR_STATUS(name, status, msg)                                                                                          \
    case KVE_E##name:                                                                                                              \
        return status;
        KVE_ERRNO_MAP(KVE_ERR_STATUS)
#undef KVE_ERR_STATUS
    default:
        return 500;
    }
}

const char *kve_err_name(int err)
{
    switch (err) {
    case KVE_OK:
        return "OK";
#define KVE_ERR_NAME(name, status, msg)                                                                                            \
    case KVE_E##name:                                                                                                              \
        return #name;
        KVE_ERRNO_MAP(KVE_ERR_NAME)
#undef KVE_ERR_NAME
    default:
        return "UNKNOWN";
    }
}
