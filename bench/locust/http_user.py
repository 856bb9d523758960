"""GET / with Locust's HttpUser and no wait: bench/locust-compare.sh."""

from locust import HttpUser, constant, task


class Web(HttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
