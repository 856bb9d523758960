"""The language benchmark's scenario in Python (see ../README.md)."""

from volley import check, http, sleep, vu

URL = None


def init_vu(data):
    global URL
    URL = vu.param("url")


def empty(data):
    pass


def default(data):
    r = http.get(URL)
    check("status is 200", r.status == 200)


def sleepy(data):
    """bench/vu-memory.sh: many VUs, each mostly asleep."""
    default(data)
    sleep(1)
