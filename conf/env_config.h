/* SPDX-License-Identifier: MIT */
/*
 * Starting without a config file (issue 11): `kvedge` with no -c and KV_REST_API_TOKEN in the environment serves
 * the KV API, the drop-in for the Upstash emulators people run for local development. This module turns the
 * environment into the text of a config file, which is then loaded by the normal loader (kve_config_load through
 * kve_config_set_source), so the result is exactly what that file would give and `kvedge --print-config` can show it.
 *
 * The variables (docs/configuration.md, "Starting without a config file"):
 *   KV_REST_API_TOKEN            required: the read-write token (16..4096 bytes of RFC 6750 b64token characters)
 *   KV_REST_API_READ_ONLY_TOKEN  optional: a read-only token (same rules)
 *   KVEDGE_REDIS_URL, REDIS_URL  optional: the Redis (any redis.url value); KVEDGE_REDIS_URL wins; default embedded
 *   KVEDGE_PORT, PORT            optional: the port, 1..65535; KVEDGE_PORT wins; default 8080
 *   KVEDGE_HOST                  optional: the address to listen on (an IP address or a host name); default 127.0.0.1
 *   KVEDGE_DATA_DIR              optional: data_dir; default kvedge-data in the current directory
 * An empty variable counts as unset.
 *
 * Secrets are not copied into the text: the tokens and the Redis URL (which may hold a password) are written as
 * `${NAME}` references that the loader reads from the same environment, so the text holds no secret and stays the
 * same whatever the values. The other values are validated and written as double-quoted YAML scalars with `"`, `\`
 * and `$` escaped, after refusing control characters, so no value can add YAML of its own.
 */
#ifndef KVE_CONF_ENV_CONFIG_H
#define KVE_CONF_ENV_CONFIG_H

#include <stddef.h>
#include <stdio.h>

/** The name the synthesized configuration goes by (in messages, logs and kve_config_set_source). */
#define KVE_ENV_CONFIG_NAME "<environment>"
/** Length limits of the values taken from the environment, in bytes. */
#define KVE_ENV_TOKEN_MIN 16
#define KVE_ENV_TOKEN_MAX 4096
#define KVE_ENV_URL_MAX 4096
#define KVE_ENV_PATH_MAX 4000
#define KVE_ENV_HOST_MAX 253

/** Reads one environment variable (getenv, or a table in tests); the result is borrowed. */
typedef char *(*kve_env_lookup_t)(const char *name);

typedef struct st_kve_env_config_t {
    /** the YAML text, malloc'd and NUL-terminated */
    char *yaml;
    /** where the KV API answers, for KV_REST_API_URL: "http://127.0.0.1:8080/kv" */
    char kv_url[KVE_ENV_HOST_MAX + 32];
    /** the tokens as found in the environment (borrowed from it); read_only_token may be NULL */
    const char *token, *read_only_token;
} kve_env_config_t;

/**
 * Builds the configuration from the variables `lookup` returns. Returns 0 with `out` filled (free it with
 * kve_env_config_dispose), 1 when KV_REST_API_TOKEN is unset or empty (there is nothing to build: the caller's
 * usage error), or -1 with a message naming the variable in `err` (never quoting a token or a URL).
 */
int kve_env_config_build(kve_env_config_t *out, kve_env_lookup_t lookup, char *err, size_t errlen);

/**
 * Prints the lines a client of the KV API uses, in the .env format of Vercel KV and Upstash: KV_REST_API_URL,
 * KV_REST_API_TOKEN and, when given, KV_REST_API_READ_ONLY_TOKEN. The tokens are the user's own, from their
 * environment: for stdout only, never for a log.
 */
void kve_env_config_print_env(const kve_env_config_t *env, FILE *out);

/** Prints the YAML text with line numbers (for errors: "<environment>:9:8: error: ..."); it holds no secret. */
void kve_env_config_print_numbered(const kve_env_config_t *env, FILE *out);

void kve_env_config_dispose(kve_env_config_t *env);

#endif
