"""The language benchmark's scenario in Python (see ../README.md)."""

from volley import check, http, vu

URL = None


def init_vu(data):
    global URL
    URL = vu.param("url")


def empty(data):
    pass


def default(data):
    r = http.get(URL)
    check("status is 200", r.status == 200)
