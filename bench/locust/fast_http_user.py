"""GET / with Locust's FastHttpUser and no wait: bench/locust-compare.sh."""

from locust import FastHttpUser, constant, task


class Web(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
