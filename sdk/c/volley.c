/* volley C SDK: the component's exports and the thin layer of volley.h. */
#include "volley.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- weak defaults ------------------------------------------------------ */

__attribute__((weak)) const char *volley_setup(uint8_t **data, size_t *len) {
    *data = NULL;
    *len = 0;
    return NULL;
}
__attribute__((weak)) const char *volley_init_vu(const uint8_t *data, size_t len) {
    (void)data;
    (void)len;
    return NULL;
}
__attribute__((weak)) const char *volley_teardown(const uint8_t *data, size_t len) {
    (void)data;
    (void)len;
    return NULL;
}

static char error_buf[1024];

const char *volley_errorf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_buf, sizeof error_buf, fmt, ap);
    va_end(ap);
    return error_buf;
}

/* ---- exports ------------------------------------------------------------ */

static bool fail_with(const char *msg, scenario_string_t *err) {
    if (msg == NULL) return true;
    scenario_string_dup(err, msg);
    return false;
}

bool exports_scenario_setup(scenario_list_u8_t *ret, scenario_string_t *err) {
    uint8_t *data = NULL;
    size_t len = 0;
    const char *e = volley_setup(&data, &len);
    ret->ptr = data;
    ret->len = data ? len : 0;
    return fail_with(e, err);
}

bool exports_scenario_init_vu(scenario_list_u8_t *setup_data, scenario_string_t *err) {
    const char *e = volley_init_vu(setup_data->ptr, setup_data->len);
    scenario_list_u8_free(setup_data);
    return fail_with(e, err);
}

bool exports_scenario_run(scenario_string_t *entry, scenario_string_t *err) {
    char *name = malloc(entry->len + 1);
    memcpy(name, entry->ptr, entry->len);
    name[entry->len] = 0;
    scenario_string_free(entry);
    const char *e = volley_run(name);
    free(name);
    return fail_with(e, err);
}

bool exports_scenario_teardown(scenario_list_u8_t *setup_data, scenario_string_t *err) {
    const char *e = volley_teardown(setup_data->ptr, setup_data->len);
    scenario_list_u8_free(setup_data);
    return fail_with(e, err);
}

/* ---- HTTP --------------------------------------------------------------- */

static scenario_string_t borrowed(const char *s) {
    scenario_string_t out;
    scenario_string_set(&out, s);
    return out;
}

static char *to_cstr(const uint8_t *p, size_t len) {
    char *s = malloc(len + 1);
    if (len) memcpy(s, p, len);
    s[len] = 0;
    return s;
}

/* What volley_expect_statuses set: sent with every request (none: 200-399). */
static uint16_t *expected;
static size_t expected_len;

void volley_expect_statuses(const uint16_t *codes, size_t n) {
    free(expected);
    expected = NULL;
    expected_len = 0;
    if (n == 0) return;
    expected = malloc(n * sizeof *codes);
    memcpy(expected, codes, n * sizeof *codes);
    expected_len = n;
}

/* The WIT request for `r`; `header` holds its `content-type: ...` line
 * (the WIT's header encoding) and must outlive the request. */
static volley_scenario_http_request_t wit_request(const volley_request *r, char **header) {
    volley_scenario_http_request_t req;
    memset(&req, 0, sizeof req);
    req.method = borrowed(r->method);
    req.url = borrowed(r->url);
    *header = NULL;
    if (r->content_type) {
        size_t len = strlen("content-type: ") + strlen(r->content_type) + 1;
        *header = malloc(len);
        snprintf(*header, len, "content-type: %s", r->content_type);
        req.headers = borrowed(*header);
    }
    if (r->body) {
        req.body.ptr = (uint8_t *)r->body;
        req.body.len = strlen(r->body);
    }
    if (r->name) {
        req.name.is_some = true;
        req.name.val = borrowed(r->name);
    }
    if (r->judged) {
        static volley_scenario_http_pair_t verdict_tag;
        verdict_tag.f0 = borrowed("volley_verdict");
        verdict_tag.f1 = borrowed("call");
        req.tags.ptr = &verdict_tag;
        req.tags.len = 1;
    }
    if (expected) {
        req.expected_statuses.is_some = true;
        req.expected_statuses.val.ptr = expected;
        req.expected_statuses.val.len = expected_len;
    }
    return req;
}

static void answered(volley_scenario_http_response_t *res, volley_response *out) {
    out->error = VOLLEY_HTTP_OK;
    out->status = res->status;
    out->body = to_cstr(res->body.ptr, res->body.len);
    out->body_len = res->body.len;
    out->duration_ms = (double)res->timings.duration_us / 1000.0;
    volley_scenario_http_response_free(res);
}

/* Reads the parts a volley_response has off the engine's reply and drops
 * it: the headers and protocol are never copied in. */
static void read_reply(volley_scenario_http_own_reply_t reply, volley_response *out) {
    volley_scenario_http_borrow_reply_t r = volley_scenario_http_borrow_reply(reply);
    scenario_list_u8_t body;
    volley_scenario_http_timings_t t;
    out->error = VOLLEY_HTTP_OK;
    out->status = volley_scenario_http_method_reply_status(r);
    volley_scenario_http_method_reply_body(r, &body);
    volley_scenario_http_method_reply_timings(r, &t);
    volley_scenario_http_reply_drop_own(reply);
    out->body = to_cstr(body.ptr, body.len);
    out->body_len = body.len;
    out->duration_ms = (double)t.duration_us / 1000.0;
    scenario_list_u8_free(&body);
}

static void unanswered(volley_scenario_http_net_error_t *err, volley_response *out) {
    out->error = (volley_http_error)err->class_;
    out->message = to_cstr(err->message.ptr, err->message.len);
    volley_scenario_http_net_error_free(err);
}

static bool send_one(const volley_request *r, volley_response *out) {
    memset(out, 0, sizeof *out);
    char *header;
    volley_scenario_http_request_t req = wit_request(r, &header);
    volley_scenario_http_own_reply_t reply;
    volley_scenario_http_net_error_t err;
    bool ok = volley_scenario_http_fetch(&req, &reply, &err);
    free(header);
    if (!ok) {
        unanswered(&err, out);
        return false;
    }
    read_reply(reply, out);
    return true;
}

bool volley_http(const char *method, const char *url, const char *body, const char *content_type,
                 const char *name, volley_response *out) {
    volley_request r = {method, url, body, content_type, name, false};
    return send_one(&r, out);
}

bool volley_http_judged(const char *method, const char *url, const char *body,
                        const char *content_type, const char *name, volley_response *out) {
    volley_request r = {method, url, body, content_type, name, true};
    return send_one(&r, out);
}

bool volley_http_verdict(bool ok, bool check) { return volley_scenario_http_verdict(ok, check); }

size_t volley_http_batch(const volley_request *reqs, size_t n, volley_response *out) {
    volley_scenario_http_request_t *list = calloc(n ? n : 1, sizeof *list);
    char **headers = calloc(n ? n : 1, sizeof *headers);
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        list[i] = wit_request(&reqs[i], &headers[i]);
    }
    volley_scenario_http_list_request_t batch = {list, n};
    volley_scenario_http_list_result_response_net_error_t results;
    volley_scenario_http_send_batch(&batch, &results);
    size_t got = 0;
    for (size_t i = 0; i < n && i < results.len; i++) {
        if (results.ptr[i].is_err) {
            unanswered(&results.ptr[i].val.err, &out[i]);
        } else {
            answered(&results.ptr[i].val.ok, &out[i]);
            got++;
        }
        free(headers[i]);
    }
    /* Each entry's contents were taken (and freed) above: only the list. */
    free(results.ptr);
    free(headers);
    free(list);
    return got;
}

bool volley_get(const char *url, const char *name, volley_response *out) {
    return volley_http("GET", url, NULL, NULL, name, out);
}

bool volley_post_json(const char *url, const char *json, const char *name, volley_response *out) {
    return volley_http("POST", url, json, "application/json", name, out);
}

void volley_response_free(volley_response *r) {
    free(r->body);
    free(r->message);
    r->body = NULL;
    r->message = NULL;
}

const char *volley_http_error_name(volley_http_error e) {
    static const char *names[] = {"refused",         "timeout",     "reset",  "tls",  "dns", "handshake",
                                  "invalid-request", "not-allowed", "closed", "other"};
    if (e == VOLLEY_HTTP_OK) return "ok";
    if ((int)e < 0 || (size_t)e >= sizeof names / sizeof names[0]) return "other";
    return names[e];
}

/* ---- checks and metrics ------------------------------------------------- */

static volley_scenario_metrics_list_pair_t no_tags(void) {
    volley_scenario_metrics_list_pair_t t = {NULL, 0};
    return t;
}

bool volley_check(const char *name, bool ok) {
    scenario_string_t n = borrowed(name);
    volley_scenario_metrics_list_pair_t t = no_tags();
    return volley_scenario_metrics_check(&n, ok, &t);
}

bool volley_check_tagged(const char *name, bool ok, const char *key, const char *value) {
    scenario_string_t n = borrowed(name);
    volley_scenario_metrics_pair_t tag = {borrowed(key), borrowed(value)};
    volley_scenario_metrics_list_pair_t t = {&tag, 1};
    return volley_scenario_metrics_check(&n, ok, &t);
}

void volley_group_enter(const char *name) {
    scenario_string_t n = borrowed(name);
    volley_scenario_metrics_enter_group(&n);
}

void volley_group_leave(void) {
    volley_scenario_metrics_leave_group();
}

/* Metric handles by name, declared on first use: the engine looks nothing
 * up per sample. A name already of another kind is refused once (logged);
 * its samples are dropped. */
#define MAX_HANDLES 64
typedef struct {
    char *name;
    bool refused;
    int32_t handle; /* the own handle's value */
} declared;

static declared *find(declared *table, size_t *len, const char *name, bool *fresh) {
    for (size_t i = 0; i < *len; i++) {
        if (strcmp(table[i].name, name) == 0) {
            *fresh = false;
            return &table[i];
        }
    }
    *fresh = true;
    if (*len == MAX_HANDLES) return NULL;
    declared *d = &table[(*len)++];
    d->name = strdup(name);
    d->refused = false;
    d->handle = 0;
    return d;
}

#define HANDLE_KIND(kind)                                                             \
    static declared kind##_table[MAX_HANDLES];                                                             \
    static size_t kind##_len;                                                                              \
    static bool kind##_handle(const char *name, volley_scenario_metrics_own_##kind##_t *out) {             \
        bool fresh;                                                                                        \
        declared *d = find(kind##_table, &kind##_len, name, &fresh);                                       \
        if (d == NULL) {                                                                                   \
            volley_log(VOLLEY_ERROR, "%s: more than %d metric names of one kind; sample dropped", name,    \
                       MAX_HANDLES);                                                                       \
            return false;                                                                                  \
        }                                                                                                  \
        if (fresh) {                                                                                       \
            scenario_string_t n = borrowed(name);                                                          \
            scenario_string_t err;                                                                         \
            volley_scenario_metrics_own_##kind##_t h;                                                      \
            if (volley_scenario_metrics_static_##kind##_declare(&n, &h, &err)) {                           \
                d->handle = h.__handle;                                                                    \
            } else {                                                                                       \
                d->refused = true;                                                                         \
                volley_log(VOLLEY_ERROR, "%.*s", (int)err.len, (const char *)err.ptr);                     \
                scenario_string_free(&err);                                                                \
            }                                                                                              \
        }                                                                                                  \
        out->__handle = d->handle;                                                                         \
        return !d->refused;                                                                                \
    }

HANDLE_KIND(counter)
HANDLE_KIND(gauge)
HANDLE_KIND(rate)
HANDLE_KIND(trend)

void volley_counter_add(const char *name, double value) {
    volley_scenario_metrics_own_counter_t h;
    volley_scenario_metrics_list_pair_t t = no_tags();
    if (counter_handle(name, &h)) volley_scenario_metrics_method_counter_add(volley_scenario_metrics_borrow_counter(h), value, &t);
}

void volley_gauge_set(const char *name, double value) {
    volley_scenario_metrics_own_gauge_t h;
    volley_scenario_metrics_list_pair_t t = no_tags();
    if (gauge_handle(name, &h)) volley_scenario_metrics_method_gauge_set(volley_scenario_metrics_borrow_gauge(h), value, &t);
}

void volley_rate_add(const char *name, bool ok) {
    volley_scenario_metrics_own_rate_t h;
    volley_scenario_metrics_list_pair_t t = no_tags();
    if (rate_handle(name, &h)) volley_scenario_metrics_method_rate_add(volley_scenario_metrics_borrow_rate(h), ok, &t);
}

void volley_trend_add(const char *name, double value) {
    volley_scenario_metrics_own_trend_t h;
    volley_scenario_metrics_list_pair_t t = no_tags();
    if (trend_handle(name, &h)) volley_scenario_metrics_method_trend_add(volley_scenario_metrics_borrow_trend(h), value, &t);
}

/* ---- the VU ------------------------------------------------------------- */

char *volley_param(const char *name) {
    scenario_string_t n = borrowed(name);
    scenario_string_t v;
    if (!volley_scenario_vu_param(&n, &v)) return NULL;
    char *s = to_cstr(v.ptr, v.len);
    scenario_string_free(&v);
    return s;
}

uint32_t volley_vu_id(void) { return volley_scenario_vu_id(); }
uint64_t volley_iteration(void) { return volley_scenario_vu_iteration(); }
uint64_t volley_iteration_in_scenario(void) { return volley_scenario_vu_iteration_in_scenario(); }
void volley_sleep_ms(uint64_t ms) { volley_scenario_vu_sleep_ms(ms); }
uint64_t volley_now_us(void) { return volley_scenario_vu_now_us(); }
uint64_t volley_random_u64(void) { return volley_scenario_vu_random_u64(); }

int64_t volley_random_range(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(volley_scenario_vu_random_u64() % span);
}

char *volley_random_string(char *buf, size_t n) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n; i++) buf[i] = alphabet[volley_scenario_vu_random_u64() % 36];
    buf[n] = 0;
    return buf;
}

/* ---- log ---------------------------------------------------------------- */

void volley_log(volley_level level, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    scenario_string_t m = borrowed(buf);
    volley_scenario_log_write((volley_scenario_log_level_t)level, &m);
}
