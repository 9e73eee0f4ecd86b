"""The REST API: uploads (`POST /api/translations`, the job's status and audio) and
transcripts of jobs and live sessions."""
