"""The REST API's throttles (DRF), over translation.limits: they run before the upload's body
is read, and each raises LimitExceeded with its own reason (the API's error handler makes it a
429 with Retry-After)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from translation.limits import quotas
from translation.limits.clients import client_of_request


class UploadRateThrottle(SimpleRateThrottle):
    """LIMIT_UPLOADS_PER_MINUTE per client (a sliding minute, DRF's request history)."""

    scope = "uploads"

    def get_rate(self) -> str | None:
        return None  # per client: set in allow_request

    def allow_request(self, request: Any, view: Any) -> bool:
        if request.method != "POST":
            return True
        self.client = client_of_request(request)
        limit = quotas.limit_for(self.client, settings.LIMIT_UPLOADS_PER_MINUTE)
        if limit is None:
            return True
        self.rate = f"{limit}/min"
        self.num_requests, self.duration = limit, 60
        if super().allow_request(request, view):
            return True
        raise quotas.LimitExceeded(
            f"too many uploads from this client (at most {limit} a minute)",
            limit="uploads_per_minute",
            retry_after_s=self.wait() or 1,
        )

    def get_cache_key(self, request: Any, view: Any) -> str:
        return f"limits:uploads:{self.client.key}"


class QueuedJobsThrottle(BaseThrottle):
    """LIMIT_QUEUED_JOBS uploads queued or running per client."""

    def allow_request(self, request: Any, view: Any) -> bool:
        if request.method == "POST":
            quotas.check_queued_jobs(client_of_request(request))
        return True
