/* SPDX-License-Identifier: MIT */
/*
 * Directive tables of the server itself (docs/configuration.md, "Top level"): listeners and their TLS, request
 * limits, and the error and access logs. The top-level table (config.c) places them.
 */
#include "conf/config.h"
#include "conf/config_internal.h"
#include "proxy/listener.h"
#include "proxy/log.h"

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
/* in the order of KVE_LOG_FORMAT_TEXT, _JSON */
static const char *const log_formats[] = {"text", "json", NULL};

/*
 * The certificate and key load and match, with the very function startup loads them with (proxy/listener.h), so that
 * `kvedge -t` refuses what startup would; the error points at the file at fault.
 */
static int check_tls(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_tls_conf_t *tls = obj;
    kve_tls_failure_t failed;
    SSL_CTX *ctx;
    char err[1024];

    if ((tls->cert_file == NULL) != (tls->key_file == NULL)) {
        kve_conf_error(conf, node, "cert_file and key_file must be given together");
        return -1;
    }
    if (tls->cert_file == NULL)
        return 0;
    if ((ctx = kve_listener_tls_new(tls, 0, &failed, err, sizeof(err))) == NULL) {
        kve_conf_error(conf, kve_config__at_key(node, failed == KVE_TLS_BAD_CERT ? "cert_file" : "key_file"), "%s", err);
        return -1;
    }
    SSL_CTX_free(ctx);
    return 0;
}

static const kve_directive_t tls_directives[] = {
    {"cert_file", KVE_T_STRING, KVE_FIELD(kve_tls_conf_t, cert_file), KVE_F_PATH, .min = 1, .doc = "PEM certificate chain"},
    {"key_file", KVE_T_STRING, KVE_FIELD(kve_tls_conf_t, key_file), KVE_F_PATH, .min = 1, .doc = "PEM private key"},
    {NULL}};

const kve_directive_t kve_config__listen_directives[] = {
    {"host", KVE_T_STRING, KVE_FIELD(kve_listen_conf_t, host), .min = 1, .dflt = "127.0.0.1", .doc = "address to bind"},
    {"port", KVE_T_INT, KVE_FIELD(kve_listen_conf_t, port), KVE_F_REQUIRED, 1, 65535, .doc = "TCP port"},
    {"tls", KVE_T_MAP, KVE_FIELD(kve_listen_conf_t, tls), .children = tls_directives, .check = check_tls,
     .doc = "serve HTTPS with this certificate"},
    {NULL}};

const kve_directive_t kve_config__limits_directives[] = {
    {"max_body_size", KVE_T_SIZE, KVE_FIELD(kve_server_limits_t, max_body_size), 0, 1, GIB, "10MiB",
     .doc = "largest request body (413 beyond)"},
    {"max_header_size", KVE_T_SIZE, KVE_FIELD(kve_server_limits_t, max_header_size), 0, KIB, 256 * KIB, "16KiB",
     .doc = "total bytes of request header fields (431 beyond)"},
    {"max_headers", KVE_T_INT, KVE_FIELD(kve_server_limits_t, max_headers), 0, 1, 100, "64",
     .doc = "number of request header fields (431 beyond; h2o parses at most 100)"},
    {"max_connections", KVE_T_INT, KVE_FIELD(kve_server_limits_t, max_connections), 0, 1, 1048576, "4096",
     .doc = "open client connections; beyond it kvedge stops accepting"},
    {"request_timeout", KVE_T_DURATION, KVE_FIELD(kve_server_limits_t, request_timeout_ms), 0, 100, HOUR, "10s",
     .doc = "reading a request, and keep-alive idle time"},
    {"handshake_timeout", KVE_T_DURATION, KVE_FIELD(kve_server_limits_t, handshake_timeout_ms), 0, 100, HOUR, "10s",
     .doc = "TLS handshake"},
    {"drain_timeout", KVE_T_DURATION, KVE_FIELD(kve_server_limits_t, drain_timeout_ms), 0, 0, HOUR, "10s",
     .doc = "on SIGTERM, how long in-flight requests may take"},
    {"max_pending_size", KVE_T_SIZE, KVE_FIELD(kve_server_limits_t, max_pending_size), 0, 0, 64 * GIB, "64MiB",
     .doc = "memory of requests being received that no handler (no token check) has seen yet, all connections; beyond "
            "it the largest get 503 and are closed (0: no limit; at least twice the largest request accepted)"},
    {"max_proxy_buffer", KVE_T_SIZE, KVE_FIELD(kve_server_limits_t, max_proxy_buffer), 0, 64 * KIB, GIB, "4MiB",
     .doc = "upstream bytes a proxied response may hold beyond the chunk being sent before kvedge stops reading the "
            "upstream until the client takes it (a response holds about twice this, plus one read, at most)"},
    {NULL}};

/* log: the access log format compiles (else kvedge -t passes a file that fails at startup) */
int kve_config__check_log(kve_conf_t *conf, const kve_node_t *node, void *obj)
{
    kve_log_conf_t *log = obj;
    char err[512];
    if (kve_access_log_check_format(log->access_log_format, err, sizeof(err)) != 0) {
        kve_conf_error(conf, kve_config__at_key(node, "access_log_format"), "%s", err);
        return -1;
    }
    return 0;
}

const kve_directive_t kve_config__log_directives[] = {
    {"level", KVE_T_ENUM, KVE_FIELD(kve_log_conf_t, level), .dflt = "info", .choices = log_levels, .doc = "error log verbosity"},
    {"format", KVE_T_ENUM, KVE_FIELD(kve_log_conf_t, format), .dflt = "text", .choices = log_formats,
     .doc = "error log lines: \"text\" (time [level] module: message) or \"json\" (one JSON object per line, also for "
            "what h2o prints)"},
    {"error_log", KVE_T_STRING, KVE_FIELD(kve_log_conf_t, error_log), KVE_F_PATH, .min = 1, .dflt = "-",
     .doc = "\"-\" for stderr, or a file (reopened on SIGUSR1)"},
    {"access_log", KVE_T_STRING, KVE_FIELD(kve_log_conf_t, access_log), KVE_F_PATH,
     .doc = "\"\" off, \"-\" stdout, or a file (reopened on SIGUSR1)"},
    {"access_log_format", KVE_T_STRING, KVE_FIELD(kve_log_conf_t, access_log_format),
     .doc = "\"json\" (one JSON object per request), or an h2o log format of at most 4096 bytes (default: common log format "
            "plus duration)"},
    {NULL}};
