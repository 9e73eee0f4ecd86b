"""The REST API for uploads: `POST /api/translations` and the job's status and audio."""
