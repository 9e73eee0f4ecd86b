"""`/ws/jobs/<id>`: a job's status, at once and then on each change (`JobStatus` events)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError

from translation.events import JobStatus
from translation.jobs import selectors
from translation.jobs.delivery import job_group
from translation.messaging.channel_layer import remember_event_loop
from translation.messaging.sockets import SurvivesChannelLayerLoss
from translation.models import Translation
from translation.protocol.messages import JobMessage, bounded_json, error_message

logger = logging.getLogger(__name__)

JOB_NOT_FOUND_CLOSE_CODE = 4404


class JobStatusConsumer(SurvivesChannelLayerLoss, AsyncWebsocketConsumer):
    """`/ws/jobs/<id>`: the job's current state at once, then each change; closes after
    `done` or `failed`. Messages: `{"type": "job", <the GET /api/translations/<id> fields>}`
    and, for an unknown id, `{"type": "error", "error": ...}` before close code 4404."""

    closes_on_layer_loss = True  # its group is gone from a restarted Redis: the client rejoins

    async def connect(self) -> None:
        self.job_id = str(self.scope["url_route"]["kwargs"]["job_id"])
        self.group = job_group(self.job_id)
        self.rank = -1
        remember_event_loop(asyncio.get_running_loop())
        # Subscribe first, then read: a change made in between arrives as an event too.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        try:
            row = await database_sync_to_async(selectors.get_translation)(self.job_id)
        except DatabaseError as exc:
            logger.warning("job %s: database unavailable: %s", self.job_id, exc)
            await self.send(text_data=error_message("the history database is not reachable"))
            await self.close(code=1011)
            return
        if row is None:
            await self.send(text_data=error_message(f"no such job {self.job_id}"))
            await self.close(code=JOB_NOT_FOUND_CLOSE_CODE)
            return
        await self._report(selectors.job_state(row))

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Clients have nothing to say here; anything sent is ignored."""

    async def job_status(self, message: dict[str, Any]) -> None:
        await self._report(JobStatus.from_message(message).job)

    async def _report(self, job: JobMessage) -> None:
        rank = Translation.status_rank(job.status)
        if rank <= self.rank:
            return  # already reported (the event and the first read can overlap)
        self.rank = rank
        await self.send(text_data=bounded_json(job, text_fields=("text", "source_text")))
        if job.status in Translation.TERMINAL:
            await self.close()
