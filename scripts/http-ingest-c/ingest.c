/* http-ingest in C: each iteration posts one chat message to `POST /messages`
 * of the target named `api` and checks it was accepted (201).
 *
 * The same scenario as scripts/http-ingest (Rust) and scripts/http-ingest-py:
 * `volley run scripts/http-ingest-c` (plans: default, quick, stress, extreme). */
#include <stdio.h>
#include <stdlib.h>

#include "volley.h"

static char *api; /* per VU: read once */

const char *volley_init_vu(const uint8_t *data, size_t len) {
    (void)data;
    (void)len;
    api = volley_param("api");
    return api ? NULL : "param `api` is missing: add it to [targets]";
}

const char *volley_run(const char *entry) {
    (void)entry;
    char url[512], body[256];
    snprintf(url, sizeof url, "%s/messages", api);
    snprintf(body, sizeof body,
             "{\"user_id\":%lld,\"channel_id\":%lld,"
             "\"content\":\"hello from vu %u iteration %llu\"}",
             (long long)volley_random_range(1, 10000), (long long)volley_random_range(1, 100),
             volley_vu_id(), (unsigned long long)volley_iteration());
    volley_response r;
    bool got = volley_post_json(url, body, "post message", &r);
    volley_check("status is 201", got && r.status == 201);
    const char *err =
        got ? NULL
            : volley_errorf("POST /messages failed: %s: %s", volley_http_error_name(r.error), r.message);
    volley_response_free(&r);
    return err;
}
