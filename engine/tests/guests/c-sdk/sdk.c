/* The C SDK's conformance scenario: every function of volley.h is called
 * and its effect checked, here (checks that must all pass) or by the test
 * (engine/tests/it/languages.rs: metrics, teardown, log and error lines). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volley.h"

static const char SETUP[] = "c-setup-data";
#define SETUP_LEN (sizeof SETUP - 1)

static char *api; /* per VU (one instance each) */
static uint64_t iterations_seen;

const char *volley_setup(uint8_t **data, size_t *len) {
    *data = malloc(SETUP_LEN);
    memcpy(*data, SETUP, SETUP_LEN);
    *len = SETUP_LEN;
    return NULL;
}

const char *volley_init_vu(const uint8_t *data, size_t len) {
    if (len != SETUP_LEN || memcmp(data, SETUP, len) != 0) return "init-vu did not get setup's bytes";
    api = volley_param("api");
    return api ? NULL : "param `api` is missing";
}

const char *volley_teardown(const uint8_t *data, size_t len) {
    if (len != SETUP_LEN || memcmp(data, SETUP, len) != 0) return "teardown did not get setup's bytes";
    volley_counter_add("c_teardowns", 1);
    return NULL;
}

static void http_calls(void) {
    char url[512];
    volley_response r;
    snprintf(url, sizeof url, "%s/health", api);
    bool got = volley_get(url, "c health", &r);
    volley_check("c get", got && r.error == VOLLEY_HTTP_OK && r.message == NULL && r.status == 200 &&
                              strstr(r.body, "\"ok\"") != NULL && r.body_len == strlen(r.body) &&
                              r.duration_ms > 0);
    volley_response_free(&r);
    volley_check("c response_free", r.body == NULL && r.message == NULL);

    snprintf(url, sizeof url, "%s/messages", api);
    got = volley_post_json(url, "{\"user_id\":1,\"channel_id\":2,\"content\":\"c\"}", "c post", &r);
    volley_check("c post_json", got && r.status == 201 && strstr(r.body, "\"id\"") != NULL);
    volley_response_free(&r);

    got = volley_http("POST", url, "{\"user_id\":0}", "application/json", NULL, &r);
    volley_check("c http body", got && r.status == 422 && strstr(r.body, "user_id") != NULL);
    volley_response_free(&r);

    got = volley_http("PUT", url, NULL, NULL, "c put", &r);
    volley_check("c http method", got && r.status == 404);
    volley_response_free(&r);

    got = volley_get("http://not-allowed.invalid/", "c not allowed", &r);
    volley_check("c http error", !got && r.error == VOLLEY_HTTP_NOT_ALLOWED && r.message != NULL &&
                                     strcmp(volley_http_error_name(r.error), "not-allowed") == 0);
    volley_response_free(&r);
    volley_check("c http error names", strcmp(volley_http_error_name(VOLLEY_HTTP_OK), "ok") == 0 &&
                                           strcmp(volley_http_error_name(VOLLEY_HTTP_TIMEOUT), "timeout") == 0 &&
                                           strcmp(volley_http_error_name(VOLLEY_HTTP_OTHER), "other") == 0);

    /* A batch: three at once, answers in order; the 404 is expected. */
    static const uint16_t expect[] = {200, 404};
    volley_expect_statuses(expect, 2);
    char health[512], missing[512];
    snprintf(health, sizeof health, "%s/health", api);
    snprintf(missing, sizeof missing, "%s/nothing-here", api);
    volley_request reqs[3] = {
        {"GET", health, NULL, NULL, "c batch"},
        {"GET", missing, NULL, NULL, "c batch 404"},
        {"GET", "http://not-allowed.invalid/", NULL, NULL, "c batch not allowed"},
    };
    volley_response outs[3];
    size_t answered = volley_http_batch(reqs, 3, outs);
    volley_expect_statuses(NULL, 0);
    volley_check("c http batch", answered == 2 && outs[0].status == 200 && strstr(outs[0].body, "\"ok\"") &&
                                     outs[1].status == 404 && outs[2].error == VOLLEY_HTTP_NOT_ALLOWED);
    for (int i = 0; i < 3; i++) volley_response_free(&outs[i]);
    volley_check_tagged("c check tagged", true, "step", "tagged");

    /* The scenario's verdict: a judged 404 passes, with a check named after it. */
    got = volley_http_judged("GET", missing, NULL, NULL, "c judged", &r);
    volley_check("c verdict", got && r.status == 404 && volley_http_verdict(true, true) &&
                                  !volley_http_verdict(true, false));
    volley_response_free(&r);
}

static void vu_calls(void) {
    char *p = volley_param("greeting");
    volley_check("c param", p != NULL && strcmp(p, "hello") == 0);
    free(p);
    volley_check("c param missing", volley_param("no_such_param") == NULL);
    volley_check("c vu id", volley_vu_id() >= 1);
    uint64_t in_scenario = volley_iteration_in_scenario();
    volley_check("c iteration", volley_iteration() == iterations_seen++ && in_scenario >= volley_iteration());

    uint64_t before = volley_now_us();
    volley_sleep_ms(20);
    volley_check("c sleep and now", volley_now_us() >= before + 20000);

    bool in_range = true, seen[4] = {false, false, false, false};
    for (int i = 0; i < 200; i++) {
        int64_t v = volley_random_range(-1, 2);
        if (v < -1 || v > 2) in_range = false;
        else seen[v + 1] = true;
    }
    volley_check("c random_range",
                 in_range && seen[0] && seen[1] && seen[2] && seen[3] && volley_random_range(5, 5) == 5);
    volley_check("c random_u64", volley_random_u64() != volley_random_u64());
    char buf[17];
    bool ok = volley_random_string(buf, 16) == buf && strlen(buf) == 16;
    for (int i = 0; i < 16; i++) ok = ok && ((buf[i] >= 'a' && buf[i] <= 'z') || (buf[i] >= '0' && buf[i] <= '9'));
    volley_check("c random_string", ok);

    volley_counter_add("c_counter", 2);
    volley_gauge_set("c_gauge", 7);
    volley_rate_add("c_rate", true);
    volley_trend_add("c_trend", 12.5);
    volley_counter_add("c_trend", 1000); /* another kind: refused (logged), dropped */
    volley_group_leave(); /* none open: nothing happens */
    /* Outside any group, though the VU's last iteration ended inside one. */
    volley_counter_add("c_grouped", 2);
    volley_group_enter("c group"); /* what is recorded inside carries group=::c group */
    volley_counter_add("c_grouped", 1);
    volley_group_leave();
    volley_log(VOLLEY_INFO, "c log line from vu %u", volley_vu_id());
    volley_group_enter("c left open"); /* the iteration's end leaves it */
    volley_counter_add("c_grouped", 4);
}

const char *volley_run(const char *entry) {
    if (strcmp(entry, "errorf") == 0) return volley_errorf("errorf says %d", 42);
    http_calls();
    vu_calls();
    return NULL;
}
