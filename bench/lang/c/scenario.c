/* The language benchmark's scenario in C (see ../README.md). */
#include <stdlib.h>
#include <string.h>

#include "volley.h"

static char *url;

const char *volley_init_vu(const uint8_t *data, size_t len) {
    (void)data;
    (void)len;
    url = volley_param("url");
    return url ? NULL : "param `url` is missing";
}

const char *volley_run(const char *entry) {
    if (strcmp(entry, "empty") == 0) return NULL;
    volley_response r;
    bool got = volley_get(url, NULL, &r);
    volley_check("status is 200", got && r.status == 200);
    volley_response_free(&r);
    return got ? NULL : "no response";
}
