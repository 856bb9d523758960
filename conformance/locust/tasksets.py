"""TaskSets the way Locust users nest them: a user whose only task is a
TaskSet, a SequentialTaskSet inside it (its tasks in order), `tasks` as a
dict mixing a TaskSet class and a weight with `@task` methods, on_start and
on_stop of each, `self.interrupt()` with and without a reschedule, and
`self.client` / `self.user` / `self.parent` from inside a TaskSet.

The target's counts show the order and the nesting: each Checkout visit
is start, cart, pay, stop.
"""

from locust import HttpUser, SequentialTaskSet, TaskSet, constant, task


class Checkout(SequentialTaskSet):
    def on_start(self):
        assert isinstance(self.parent, Browse) and self.user is self.parent.user
        self.client.get("/echo/checkout/start", name="checkout start")

    @task
    def cart(self):
        self.client.get("/echo/checkout/cart", name="checkout cart")

    @task
    def pay(self):
        self.client.post("/echo/checkout/pay", json={"user": self.user.label}, name="checkout pay")

    @task
    def done(self):
        # Back to Browse, which picks its next task at once.
        self.interrupt()

    def on_stop(self):
        self.client.get("/echo/checkout/stop", name="checkout stop")


class Browse(TaskSet):
    tasks = {Checkout: 1}

    @task(3)
    def item(self):
        self.client.get("/echo/browse/item", name="browse item")

    @task
    def leave(self):
        # Back to the user, after the wait.
        self.interrupt(reschedule=False)


class Shopper(HttpUser):
    wait_time = constant(0)
    tasks = [Browse]

    def on_start(self):
        self.label = "shopper"
