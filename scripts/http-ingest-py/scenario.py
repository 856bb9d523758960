"""http-ingest in Python: each iteration posts one chat message to
`POST /messages` of the target named `api` and checks it was accepted (201).

The same scenario as scripts/http-ingest (Rust) and scripts/http-ingest-c:
`volley run scripts/http-ingest-py` (plans: default, quick, stress, extreme).
"""

from volley import HttpError, check, fail, http, random, vu


def default(data):
    api = vu.param("api") or fail("param `api` is missing: add it to [targets]")
    try:
        r = http.post(
            f"{api}/messages",
            json={
                "user_id": random.int(1, 10_000),
                "channel_id": random.int(1, 100),
                # Unique per VU and iteration.
                "content": f"hello from vu {vu.id} iteration {vu.iteration}",
            },
            name="post message",
        )
    except HttpError as e:
        check("status is 201", False)
        fail(f"POST /messages failed: {e}")
    check("status is 201", r.status == 201)
