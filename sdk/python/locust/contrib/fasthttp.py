"""`from locust.contrib.fasthttp import FastHttpUser`: the same user as
`locust.FastHttpUser` (volley's engine client serves both)."""

from locust import FastHttpUser
from locust.clients import HttpSession as FastHttpSession
from locust.clients import ResponseContextManager as FastResponse

__all__ = ["FastHttpUser", "FastHttpSession", "FastResponse"]
