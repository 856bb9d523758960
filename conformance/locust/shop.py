"""A shop's API exercised the way a Locust user writes it: one HttpUser,
weighted @task methods, on_start, every client method and argument, the
response's attributes, and catch_response with success()/failure().

Runs unmodified under Locust (`locust -f shop.py --headless --host URL`)
and volley (`volley run shop.py --target host=URL`, or with no --target
against volley's embedded HTTP target). The target's echo routes answer
with what they received, so each task can check what was sent.
"""

import datetime
import json
from urllib.parse import parse_qs

from locust import HttpUser, between, tag, task


class Shopper(HttpUser):
    wait_time = between(0.001, 0.002)

    def on_start(self):
        r = self.client.post("/echo/login", json={"user": "ada", "password": "s3cret"}, name="login")
        assert r.status_code == 200, r.status_code
        sent = r.json()
        assert sent["method"] == "POST" and sent["path"] == "/echo/login", sent
        assert sent["headers"]["content-type"] == "application/json", sent
        self.token = "t-" + json.loads(sent["body"])["user"]
        # A redirect that sets a cookie: `url` is where it ended, and the
        # cookie went along to the next hop and stays for later requests.
        r = self.client.get("/cookie/sid/s42?redirect=/echo/account", name="session")
        assert r.url.endswith("/echo/account"), r.url
        assert "sid=s42" in r.json()["headers"]["cookie"], r.text

    @task(3)
    @tag("browse")
    def browse(self):
        r = self.client.get(
            "/echo/items",
            params={"q": "red shoes", "page": 2},
            headers={"X-Token": self.token},
            name="/echo/items?q=[q]",
        )
        assert r.ok and r.status_code == 200, r
        echo = r.json()
        assert parse_qs(echo["query"]) == {"q": ["red shoes"], "page": ["2"]}, echo
        assert echo["headers"]["x-token"] == self.token, echo
        assert "sid=s42" in echo["headers"]["cookie"], echo
        # Header names in any case; the URL that was asked for; the time it took.
        assert r.headers["Content-Type"] == r.headers["content-type"] == "application/json"
        assert "CONTENT-LENGTH" in r.headers
        assert r.url.endswith("/echo/items?q=red+shoes&page=2"), r.url
        assert isinstance(r.elapsed, datetime.timedelta) and r.elapsed.total_seconds() >= 0
        assert r.content == r.text.encode() and isinstance(r.content, bytes)

    @task(2)
    def checkout(self):
        # data= as a dict is form-encoded.
        r = self.client.post("/echo/cart", data={"sku": "A-1", "qty": 2})
        echo = r.json()
        assert echo["headers"]["content-type"] == "application/x-www-form-urlencoded", echo
        assert parse_qs(echo["body"]) == {"sku": ["A-1"], "qty": ["2"]}, echo
        # A string body goes as it is.
        r = self.client.put("/echo/cart/1", data="qty=3", headers={"Content-Type": "text/plain"})
        assert r.json()["body"] == "qty=3" and r.json()["method"] == "PUT"
        r = self.client.patch("/echo/cart/1", json={"qty": 4})
        assert r.json()["method"] == "PATCH" and r.json()["body"] == '{"qty": 4}', r.text
        r = self.client.delete("/echo/cart/1")
        assert r.json()["method"] == "DELETE"

    @task
    def inspect(self):
        r = self.client.head("/echo/catalog")
        assert r.status_code == 200 and r.content == b"", r.content
        r = self.client.request("OPTIONS", "/echo/catalog", name="catalog options")
        assert r.json()["method"] == "OPTIONS"
        # No name: the path and query name it; reason and history as requests gives them.
        r = self.client.get("/echo/catalog", params={"page": 3})
        assert r.request.path_url == "/echo/catalog?page=3", r.request.path_url
        assert r.reason == "OK" and r.history == [], (r.reason, r.history)

    @task
    def judged(self):
        # A 404 the test expects: success() makes it no failure.
        with self.client.get("/status/404", catch_response=True, name="expected 404") as r:
            if r.status_code == 404:
                r.success()
            else:
                r.failure(f"wanted 404, got {r.status_code}")
        # A 200 whose content is wrong: failure() makes it one.
        with self.client.get("/echo/stock", catch_response=True, name="stock check") as r:
            if r.json().get("in_stock"):
                r.success()
            else:
                r.failure("no in_stock field")
        # raise_for_status() on a server error.
        with self.client.get("/status/503", catch_response=True, name="flaky") as r:
            try:
                r.raise_for_status()
                r.failure("503 did not raise")
            except Exception as e:
                if "503 Server Error" in str(e):
                    r.success()
                else:
                    r.failure(f"raised {e}")
