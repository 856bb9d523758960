"""GET / with Locust's HttpUser and no wait, judged in a `catch_response`
block: bench/locust-compare.sh."""

from locust import HttpUser, constant, task


class Web(HttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        with self.client.get("/", catch_response=True) as r:
            if r.status_code != 200:
                r.failure("not 200")
