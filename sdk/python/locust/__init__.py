"""Locust's API on volley: a locustfile runs as it is (`volley run locustfile.py`).

Each VU is one user of one user class (spread by `weight`, `fixed_count`
first, as Locust does). One iteration is one task (picked by weight) plus
the user's `wait_time`; `on_start` runs before the user's first task. A
task that is a `TaskSet` (or `SequentialTaskSet`) class is entered: the
user runs its tasks, one per iteration, until one calls `self.interrupt()`.
Requests go through the engine (`http_reqs`, `http_req_duration{name:...}`,
`http_req_failed`); `catch_response=True` leaves the verdict to
`response.success()` / `response.failure(msg)`, which also records a check
named after the request.

What Locust has and volley cannot map (event hooks, the Environment and
runners, load shapes) fails the build with "not supported: X".
"""

import random as _random

from volley import log as _log
from volley import sleep as _sleep
from volley import vu as _vu

from .clients import HttpSession, ResponseContextManager
from .exception import (
    CatchResponseError,
    InterruptTaskSet,
    LocustError,
    RescheduleTask,
    RescheduleTaskImmediately,
    ResponseError,
    StopUser,
)

__version__ = "2.0.0+volley"

__all__ = [
    "User", "HttpUser", "FastHttpUser", "TaskSet", "SequentialTaskSet",
    "task", "tag", "between", "constant",
    "constant_pacing", "constant_throughput", "HttpSession",
    "ResponseContextManager", "StopUser", "RescheduleTask",
    "RescheduleTaskImmediately", "ResponseError", "CatchResponseError",
    "InterruptTaskSet", "LocustError",
]

_UNSUPPORTED = {
    "events": "event hooks (locust.events): use setup()/teardown() functions or a volley scenario",
    "LoadTestShape": "LoadTestShape: use volley's stages (--stage DURATION:TARGET, or a plan)",
    "Environment": "the Environment: volley runs the users (plans, -u/-d)",
    "runners": "Locust's runners: volley runs the users",
    "env": "Locust's Environment: volley runs the users",
    "stats": "Locust's stats module: volley records the metrics (--summary-export)",
    "web": "Locust's web UI: volley has its own outputs",
    "run_single_user": "run_single_user: run `volley run locustfile.py -u 1 -i 1`",
    "HttpLocust": "HttpLocust (Locust before 1.0): use HttpUser",
    "Locust": "Locust (before 1.0): use User",
}


def __getattr__(name):
    if name in _UNSUPPORTED:
        raise ImportError(f"volley: not supported: locust.{name} ({_UNSUPPORTED[name]})")
    raise AttributeError(f"module 'locust' has no attribute '{name}'")


# ---------------------------------------------------------------- decorators

def task(weight=1):
    """`@task` or `@task(3)`: a method the user picks, `weight` times as often."""

    def mark(fn, w):
        if not isinstance(w, int) or w < 0:
            raise ValueError(f"@task({w!r}) on {fn.__name__}: the weight is a whole number >= 0")
        fn.locust_task_weight = w
        return fn

    if callable(weight):
        return mark(weight, 1)
    return lambda fn: mark(fn, weight)


def tag(*tags):
    """`@tag('a', 'b')`: select tasks with `-e LOCUST_TAGS=a` (exclude with
    `-e LOCUST_EXCLUDE_TAGS=b`), Locust's `--tags` / `--exclude-tags`."""
    for t in tags:
        if not isinstance(t, str):
            raise ValueError(f"@tag({t!r}): tags are strings")

    def mark(fn):
        fn.locust_tag_set = set(getattr(fn, "locust_tag_set", set())) | set(tags)
        return fn

    return mark


# ---------------------------------------------------------------- wait times

def _untimed(wait_time):
    """Marks a wait that does not depend on how long the task took: the
    runner then reads no clock before each task (a call into the engine)."""
    wait_time._volley_untimed = True
    return wait_time


def between(min_wait, max_wait):
    """A uniformly random wait between `min_wait` and `max_wait` seconds."""
    return _untimed(lambda user: min_wait + _random.random() * (max_wait - min_wait))


def constant(wait_time):
    return _untimed(lambda user: wait_time)


def constant_pacing(wait_time):
    """Each task plus its wait takes `wait_time` seconds (the wait shrinks
    as the task takes longer, to 0)."""
    return lambda user: max(0.0, wait_time - user._volley_task_seconds())


def constant_throughput(task_runs_per_second):
    return constant_pacing(1.0 / task_runs_per_second)


# ---------------------------------------------------------------- users

class _UserMeta(type):
    """Collects a class's tasks as Locust's metaclass does: the inherited
    ones, then `tasks = [...]` (a callable, a TaskSet class or a
    `(task, weight)` pair each) or `{task: weight}`, then the `@task`
    methods, each as many times as its weight; and makes every subclass
    concrete unless it says `abstract = True` itself."""

    def __new__(mcs, name, bases, ns):
        ns.setdefault("abstract", False)
        cls = super().__new__(mcs, name, bases, ns)
        tasks = []
        for base in bases:
            tasks.extend(getattr(base, "tasks", None) or [])
        if ns.get("tasks") is not None:
            tasks.extend(_expand(name, ns["tasks"]))
        for attr in ns.values():
            if callable(attr) and hasattr(attr, "locust_task_weight"):
                tasks.extend([attr] * attr.locust_task_weight)
        cls.tasks = tasks
        return cls


def _expand(cls_name, tasks):
    if isinstance(tasks, dict):
        tasks = list(tasks.items())
    elif not isinstance(tasks, (list, tuple)):
        raise ValueError(f"{cls_name}.tasks: a list of callables or a dict {{callable: weight}}")
    weighted = []
    for t in tasks:
        fn, w = t if isinstance(t, tuple) and len(t) == 2 else (t, 1)
        if not isinstance(w, int) or w < 0:
            raise ValueError(f"{cls_name}.tasks: the weight of {getattr(fn, '__name__', fn)} is not a whole number >= 0")
        weighted.extend([fn] * w)
    out = []
    for t in weighted:
        if isinstance(t, type) and not issubclass(t, TaskSet):
            raise ValueError(f"{cls_name}.tasks: the class {t.__name__} is not a TaskSet")
        if not callable(t):
            raise ValueError(f"{cls_name}.tasks: {t!r} is not callable")
        out.append(t)
    return out


class User(metaclass=_UserMeta):
    """A user with no client (custom protocols). Subclass it, give it
    tasks and a `wait_time`."""

    abstract = True
    host = None
    weight = 1
    fixed_count = 0
    wait_time = constant(0)
    tasks = []

    def __init__(self, environment=None):
        self._volley_started = None
        self._volley_stopped = False

    def on_start(self):
        pass

    def on_stop(self):
        pass

    @property
    def environment(self):
        raise NotImplementedError("volley: not supported: User.environment (Locust's Environment and runners)")

    def wait(self):
        """Sleeps the user's `wait_time` (what Locust does between tasks)."""
        seconds = self.wait_time()
        # A wait of 0 (`constant(0)`) needs no call into the engine.
        if seconds > 0:
            _sleep(seconds)

    def _volley_task_seconds(self):
        if self._volley_started is None:
            return 0.0
        return (_vu.now_us() - self._volley_started) / 1e6


class TaskSet(metaclass=_UserMeta):
    """Tasks a user runs, one per iteration, once it picks this class as
    a task, until one of them calls `self.interrupt()`. `self.user` is the
    user, `self.parent` the user or TaskSet that entered this one,
    `self.client` the user's. Without a `wait_time` of its own, the user's."""

    abstract = True
    tasks = []
    wait_time = None

    def __init__(self, parent):
        self.parent = parent
        self.user = parent if isinstance(parent, User) else parent.user

    @property
    def client(self):
        return self.user.client

    @property
    def environment(self):
        return self.user.environment

    def on_start(self):
        pass

    def on_stop(self):
        pass

    def interrupt(self, reschedule=True):
        """Leaves this TaskSet: back to its parent, which picks its next
        task at once (`reschedule=True`) or after its wait."""
        raise InterruptTaskSet(reschedule)

    def wait(self):
        seconds = self.wait_time() if self.wait_time is not None else self.user.wait_time()
        if seconds > 0:
            _sleep(seconds)

    def _volley_task_seconds(self):
        return self.user._volley_task_seconds()


class SequentialTaskSet(TaskSet):
    """A TaskSet whose tasks run in the order they are declared, then from
    the first again."""

    abstract = True


class HttpUser(User):
    """A user with `self.client`, an HTTP session on `host`."""

    abstract = True

    def __init__(self, environment=None):
        super().__init__(environment)
        self.client = HttpSession(_base_url(type(self)), user=self)


class FastHttpUser(HttpUser):
    """Locust's geventhttpclient user; here the same engine client as HttpUser."""

    abstract = True

    def rest(self, method, url, headers=None, **kwargs):
        """A JSON request with `catch_response=True`; `resp.js` is the parsed body."""
        h = {"Content-Type": "application/json", "Accept": "application/json"}
        h.update(headers or {})
        return self.client.rest(method, url, headers=h, **kwargs)


def _base_url(cls):
    """The class's `host`, unless the runner named one (`--target host=URL`):
    the plan volley makes for a locustfile names the target `host`, and
    `locust_host_fallback` when it is only the embedded target for classes
    without a host of their own."""
    given = _vu.param("host")
    if given and (not cls.host or not _vu.param("locust_host_fallback")):
        return given.rstrip("/")
    if cls.host:
        return cls.host.rstrip("/")
    raise LocustError(
        f"{cls.__name__} has no host: set `host = \"http://...\"` on the class, "
        "or run with --target host=URL"
    )


# ---------------------------------------------------------------- the runner

def _user_classes(module):
    found = []
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, User) and not value.abstract:
            if value not in found:
                found.append(value)
    return found


def _filter_tags(tasks, include, exclude):
    def keep(t):
        tags = getattr(t, "locust_tag_set", set())
        if include and not (tags & include):
            return False
        return not (tags & exclude)

    return [t for t in tasks if keep(t)]


def _smooth_weighted(classes, n):
    """The `n`th (from 0) class of a smooth weighted round robin over
    `classes`: any first k VUs are spread as close to the weights as k allows."""
    weights = [c.weight for c in classes]
    total = sum(weights)
    current = [0] * len(classes)
    pick = 0
    for _ in range(n + 1):
        for i, w in enumerate(weights):
            current[i] += w
        pick = max(range(len(classes)), key=lambda i: current[i])
        current[pick] -= total
    return classes[pick]


class _Runner:
    """The locustfile's users, one per VU, behind volley's `run` export."""

    def __init__(self, module):
        self.classes = _user_classes(module)
        if not self.classes:
            raise LocustError(
                f"{getattr(module, '__file__', 'the locustfile')}: no user class "
                "(a subclass of HttpUser, FastHttpUser or User without `abstract = True`)"
            )
        for c in self.classes:
            if not c.tasks:
                raise LocustError(
                    f"No tasks defined on {c.__name__}: use the @task decorator or set "
                    "`tasks` (or mark the class `abstract = True`)"
                )
            if not isinstance(c.weight, int) or c.weight < 0 or not isinstance(c.fixed_count, int) or c.fixed_count < 0:
                raise LocustError(f"{c.__name__}: `weight` and `fixed_count` are whole numbers >= 0")
        self.user = None
        # The user, then each TaskSet it entered: the last one runs.
        self.stack = []
        self.include = self.exclude = set()

    def _class_for(self, entry):
        if entry != "default":
            for c in self.classes:
                if c.__name__ == entry:
                    return c
            names = ", ".join(c.__name__ for c in self.classes)
            raise LocustError(f"no user class `{entry}` (--exec picks one of: {names})")
        index = _vu.id - 1
        fixed = [c for c in self.classes if c.fixed_count > 0]
        for c in fixed:
            if index < c.fixed_count:
                return c
            index -= c.fixed_count
        weighted = [c for c in self.classes if c.fixed_count == 0 and c.weight > 0]
        if not weighted:
            return fixed[(_vu.id - 1) % len(fixed)] if fixed else self.classes[0]
        return _smooth_weighted(weighted, index)

    def _tasks_of(self, level):
        """`level`'s tasks (a user's or a TaskSet's) left by the tags."""
        tasks = _filter_tags(type(level).tasks, self.include, self.exclude)
        if not tasks:
            raise LocustError(f"{type(level).__name__}: no task left after LOCUST_TAGS / LOCUST_EXCLUDE_TAGS")
        return tasks

    def _start(self, entry):
        cls = self._class_for(entry)
        split = lambda v: {t.strip() for t in (v or "").split(",") if t.strip()}
        self.include = split(_vu.param("LOCUST_TAGS"))
        self.exclude = split(_vu.param("LOCUST_EXCLUDE_TAGS"))
        user = cls()
        user._volley_tasks = self._tasks_of(user)
        self.user = user
        self.stack = [user]
        user._volley_started = _vu.now_us()
        user.on_start()

    @staticmethod
    def _next_task(level):
        tasks = level._volley_tasks
        if isinstance(level, SequentialTaskSet):
            i = getattr(level, "_volley_next", 0)
            level._volley_next = (i + 1) % len(tasks)
            return tasks[i]
        return tasks[0] if len(tasks) == 1 else _random.choice(tasks)

    def _enter(self, cls, parent):
        taskset = cls(parent)
        taskset._volley_tasks = self._tasks_of(taskset)
        self.stack.append(taskset)
        taskset.on_start()
        return taskset

    def _leave(self):
        taskset = self.stack.pop()
        taskset.on_stop()

    def _run_task(self):
        """One task of the innermost level: a TaskSet picked is entered and
        its first task run. False when the next task comes without a wait."""
        level = self.stack[-1]
        try:
            task = self._next_task(level)
            while isinstance(task, type):
                level = self._enter(task, level)
                task = self._next_task(level)
            task(level)
        except InterruptTaskSet as e:
            # Back to the parent (a user has none to go back to).
            if len(self.stack) > 1:
                self._leave()
            return not e.reschedule
        return True

    def iterate(self, entry):
        if self.user is None:
            self._start(entry)
        user = self.user
        if user._volley_stopped:
            # Locust ends a user that raised StopUser; a VU here only waits.
            _sleep(1.0)
            return
        # Only a wait that may depend on the task's time (constant_pacing,
        # or a wait_time of the script's own) needs its start.
        waits = self.stack[-1]
        wait_time = waits.wait_time if waits.wait_time is not None else user.wait_time
        if not getattr(wait_time, "_volley_untimed", False):
            user._volley_started = _vu.now_us()
        try:
            if not self._run_task():
                return
        except RescheduleTaskImmediately:
            return
        except RescheduleTask:
            pass
        except StopUser:
            self.stop()
            return
        # The wait of the level the task ran in (or went back to).
        self.stack[-1].wait()

    def stop(self):
        """The run stops this VU: the on_stop of each TaskSet it is in,
        then its user's, as Locust calls them when a test ends (not again
        for a user that raised StopUser)."""
        user = self.user
        if user is not None and not user._volley_stopped:
            user._volley_stopped = True
            while len(self.stack) > 1:
                self._leave()
            user.on_stop()


def _warn(message):
    _log.warn(message)
