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

bool volley_http(const char *method, const char *url, const char *body, const char *content_type,
                 const char *name, volley_response *out) {
    memset(out, 0, sizeof *out);
    volley_scenario_http_pair_t header;
    volley_scenario_http_request_t req;
    memset(&req, 0, sizeof req);
    req.method = borrowed(method);
    req.url = borrowed(url);
    if (content_type) {
        header.f0 = borrowed("content-type");
        header.f1 = borrowed(content_type);
        req.headers.ptr = &header;
        req.headers.len = 1;
    }
    if (body) {
        req.body.ptr = (uint8_t *)body;
        req.body.len = strlen(body);
    }
    if (name) {
        req.name.is_some = true;
        req.name.val = borrowed(name);
    }
    volley_scenario_http_response_t res;
    volley_scenario_http_http_error_t err;
    if (!volley_scenario_http_send(&req, &res, &err)) {
        out->error = (volley_http_error)err.class_;
        out->message = to_cstr(err.message.ptr, err.message.len);
        volley_scenario_http_http_error_free(&err);
        return false;
    }
    out->error = VOLLEY_HTTP_OK;
    out->status = res.status;
    out->body = to_cstr(res.body.ptr, res.body.len);
    out->body_len = res.body.len;
    out->duration_ms = (double)res.timings.duration_us / 1000.0;
    volley_scenario_http_response_free(&res);
    return true;
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
    static const char *names[] = {"refused", "timeout", "reset", "tls", "dns", "invalid-request",
                                  "not-allowed", "other"};
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
    return volley_scenario_metrics_check(&n, ok);
}

void volley_counter_add(const char *name, double value) {
    scenario_string_t n = borrowed(name);
    volley_scenario_metrics_list_pair_t t = no_tags();
    volley_scenario_metrics_counter_add(&n, value, &t);
}

void volley_gauge_set(const char *name, double value) {
    scenario_string_t n = borrowed(name);
    volley_scenario_metrics_list_pair_t t = no_tags();
    volley_scenario_metrics_gauge_set(&n, value, &t);
}

void volley_rate_add(const char *name, bool ok) {
    scenario_string_t n = borrowed(name);
    volley_scenario_metrics_list_pair_t t = no_tags();
    volley_scenario_metrics_rate_add(&n, ok, &t);
}

void volley_trend_add(const char *name, double value) {
    scenario_string_t n = borrowed(name);
    volley_scenario_metrics_list_pair_t t = no_tags();
    volley_scenario_metrics_trend_add(&n, value, &t);
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
