/* volley: write load-test scenarios in C.
 *
 * The generated bindings (gen/scenario.h, from ../../wit by wit-bindgen) are
 * the whole API; this header is a thin layer over them for what scenarios do
 * all the time: HTTP with a text body, checks, parameters, sleeps, metrics,
 * random test data and logging. A scenario defines one function:
 *
 *     #include "volley.h"
 *
 *     const char *volley_run(const char *entry) {      // one iteration
 *         volley_response r;
 *         char *api = volley_param("api");
 *         ...
 *         return NULL;                                  // NULL: ok; else why it failed
 *     }
 *
 * and may define volley_setup / volley_init_vu / volley_teardown (weak
 * defaults do nothing). `volley build` compiles every .c of the folder with
 * clang for wasm32-wasi and wasi-libc, links the bindings, and wraps the
 * module with the WASI preview1 adapter into a component.
 */
#ifndef VOLLEY_H
#define VOLLEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

#define VOLLEY_SDK_VERSION "0.1.0"

/* ---- what the scenario defines ---------------------------------------- */

/* One iteration of entry `entry` (the plan's `exec`, default "default").
 * Return NULL when it went well, or a message (a literal, or volley_errorf's
 * buffer) to count it as failed. */
const char *volley_run(const char *entry);
/* Once per run before any VU; set *data (malloc'd, may stay NULL) to hand
 * bytes to every VU. Weak default: no data. */
const char *volley_setup(uint8_t **data, size_t *len);
/* Once per VU before its first iteration, with setup's bytes. */
const char *volley_init_vu(const uint8_t *data, size_t len);
/* Once after all VUs stopped, with setup's bytes. */
const char *volley_teardown(const uint8_t *data, size_t len);

/* printf into a per-VU buffer, for returning as an error message. */
const char *volley_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- HTTP ------------------------------------------------------------- */

/* Why a request got no response (`error` is VOLLEY_HTTP_OK when it did). */
typedef enum {
    VOLLEY_HTTP_OK = -1,
    VOLLEY_HTTP_REFUSED = VOLLEY_SCENARIO_TYPES_ERROR_CLASS_REFUSED,
    VOLLEY_HTTP_TIMEOUT = VOLLEY_SCENARIO_TYPES_ERROR_CLASS_TIMEOUT,
    VOLLEY_HTTP_RESET = VOLLEY_SCENARIO_TYPES_ERROR_CLASS_RESET,
    VOLLEY_HTTP_TLS = VOLLEY_SCENARIO_TYPES_ERROR_CLASS_TLS,
    VOLLEY_HTTP_DNS = VOLLEY_SCENARIO_TYPES_ERROR_CLASS_DNS,
    VOLLEY_HTTP_INVALID_REQUEST = VOLLEY_SCENARIO_TYPES_ERROR_CLASS_INVALID_REQUEST,
    VOLLEY_HTTP_NOT_ALLOWED = VOLLEY_SCENARIO_TYPES_ERROR_CLASS_NOT_ALLOWED,
    VOLLEY_HTTP_OTHER = VOLLEY_SCENARIO_TYPES_ERROR_CLASS_OTHER,
} volley_http_error;

typedef struct {
    volley_http_error error; /* VOLLEY_HTTP_OK, or why there is no response */
    char *message;           /* the error's text (NULL when ok) */
    uint16_t status;
    char *body; /* NUL-terminated copy of the body */
    size_t body_len;
    double duration_ms;
} volley_response;

/* Sends a request; `body` and `content_type` may be NULL; `name` groups
 * URLs with ids in one metric series (NULL: the URL). Returns true when a
 * response came (any status). Free the response with volley_response_free. */
bool volley_http(const char *method, const char *url, const char *body, const char *content_type,
                 const char *name, volley_response *out);
bool volley_get(const char *url, const char *name, volley_response *out);
/* As volley_http, for a request the scenario judges itself (Locust's
 * catch_response): its http_req_failed sample is the one
 * volley_http_verdict gives, not its status's. */
bool volley_http_judged(const char *method, const char *url, const char *body,
                        const char *content_type, const char *name, volley_response *out);
/* The verdict on the last response to a judged request: its
 * http_req_failed sample (failed unless ok) and, with check, a check named
 * after the request. False when no response waits for one; a response left
 * without one when the next comes, or when the iteration ends, is judged by
 * its status. */
bool volley_http_verdict(bool ok, bool check);
bool volley_post_json(const char *url, const char *json, const char *name, volley_response *out);
void volley_response_free(volley_response *r);

/* One request of a batch; `body`, `content_type` and `name` may be NULL;
 * `judged`: the scenario gives its verdict (volley_http_verdict). */
typedef struct {
    const char *method;
    const char *url;
    const char *body;
    const char *content_type;
    const char *name;
    bool judged;
} volley_request;

/* Sends the n requests at once (concurrently) and waits for all; out[i] is
 * reqs[i]'s response (free each). Returns how many got a response. */
size_t volley_http_batch(const volley_request *reqs, size_t n, volley_response *out);

/* The statuses later requests expect (others count in http_req_failed);
 * n = 0: the default, 200 to 399. Kept here and sent with each request. */
void volley_expect_statuses(const uint16_t *codes, size_t n);
/* "refused", "timeout", ... for an error class. */
const char *volley_http_error_name(volley_http_error e);

/* ---- checks, metrics, marks ------------------------------------------- */

bool volley_check(const char *name, bool ok);
/* A check with one extra tag (e.g. "group", "::checkout"). */
bool volley_check_tagged(const char *name, bool ok, const char *key, const char *value);
/* k6's group: between the two calls what the VU records (requests, checks,
 * custom metrics, WebSocket sockets it opens) carries the tag
 * group=::name (::outer::name when nested), and volley_group_leave records
 * the group's time as a group_duration sample with that tag. */
void volley_group_enter(const char *name);
void volley_group_leave(void);
/* Custom metrics by name; the first call declares the name (as the engine's
 * metric handle, kept per VU). A name already of another kind is an error,
 * logged once; its samples are dropped. */
void volley_counter_add(const char *name, double value);
void volley_gauge_set(const char *name, double value);
void volley_rate_add(const char *name, bool ok);
void volley_trend_add(const char *name, double value);

/* ---- the VU ------------------------------------------------------------ */

/* A parameter (plan params, -e KEY=VALUE, target URLs): malloc'd, NULL if unset. */
char *volley_param(const char *name);
uint32_t volley_vu_id(void);
uint64_t volley_iteration(void);
/* This iteration's number across its scenario, from 0: every VU's
 * iterations counted as they start (k6's exec.scenario.iterationInTest). */
uint64_t volley_iteration_in_scenario(void);
void volley_sleep_ms(uint64_t ms);
uint64_t volley_now_us(void);

/* ---- random test data (the engine's per-VU generator) ----------------- */

uint64_t volley_random_u64(void);
/* Uniform in [lo, hi]. */
int64_t volley_random_range(int64_t lo, int64_t hi);
/* n random lowercase letters and digits into buf (n+1 bytes); returns buf. */
char *volley_random_string(char *buf, size_t n);

/* ---- log --------------------------------------------------------------- */

typedef enum {
    VOLLEY_DEBUG = VOLLEY_SCENARIO_LOG_LEVEL_DEBUG,
    VOLLEY_INFO = VOLLEY_SCENARIO_LOG_LEVEL_INFO,
    VOLLEY_WARN = VOLLEY_SCENARIO_LOG_LEVEL_WARN,
    VOLLEY_ERROR = VOLLEY_SCENARIO_LOG_LEVEL_ERROR,
} volley_level;

void volley_log(volley_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
