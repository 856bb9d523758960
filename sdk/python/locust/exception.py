"""Locust's exceptions (`from locust.exception import StopUser, ...`)."""


class LocustError(Exception):
    pass


class ResponseError(Exception):
    pass


class CatchResponseError(Exception):
    pass


class InterruptTaskSet(Exception):
    def __init__(self, reschedule=True):
        super().__init__()
        self.reschedule = reschedule


class StopUser(Exception):
    """Ends this user: `on_stop` runs, and its VU only waits from then on."""


class RescheduleTask(Exception):
    """Ends the task; the user waits its `wait_time` as after any task."""


class RescheduleTaskImmediately(Exception):
    """Ends the task without the wait."""


class HTTPError(Exception):
    """What `response.raise_for_status()` raises (requests' HTTPError)."""

    def __init__(self, message, response=None):
        super().__init__(message)
        self.response = response
