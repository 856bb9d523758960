"""Several user classes the way a Locust test mixes them: `weight`,
`fixed_count`, `tasks` as a list and as a dict, wait_time helpers
(constant, constant_pacing), FastHttpUser from locust.contrib, on_stop,
plain functions as tasks, and StopUser-free classes that just keep going.

Each user announces its class once (`GET /echo/start/<Class>`), so the
target's counts show how the users were spread over the classes.
"""

from locust import HttpUser, constant, constant_pacing, task
from locust.contrib.fasthttp import FastHttpUser


def read_article(user):
    r = user.client.get("/echo/articles/1", name="article")
    assert r.json()["path"] == "/echo/articles/1"


def read_comments(user):
    user.client.get("/echo/articles/1/comments", name="comments")


class Reader(HttpUser):
    weight = 3
    wait_time = constant(0)
    tasks = {read_article: 3, read_comments: 1}

    def on_start(self):
        self.client.get("/echo/start/Reader", name="start Reader")


class Writer(FastHttpUser):
    weight = 1
    wait_time = constant_pacing(0.001)

    def on_start(self):
        self.client.get("/echo/start/Writer", name="start Writer")

    @task
    def write(self):
        with self.rest("POST", "/echo/articles", json={"title": "t"}) as resp:
            if resp.js is None or resp.js["method"] != "POST":
                resp.failure("not echoed")

    def on_stop(self):
        self.client.get("/echo/stop/Writer", name="stop Writer")


class Admin(HttpUser):
    fixed_count = 1
    wait_time = constant(0)

    def on_start(self):
        self.client.get("/echo/start/Admin", name="start Admin")

    def audit(self):
        self.client.get("/echo/audit", name="audit")

    tasks = [audit]
