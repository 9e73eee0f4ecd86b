"""Who may take how much: limits per client (a signed-in user, else an IP address).

- `clients`: who the client of a request or a WebSocket is (X-Forwarded-For only through
  TRUSTED_PROXY_COUNT proxies), and its tier (anonymous, signed in, staff);
- `quotas`: the limits and their counters (the Django cache: Redis on the real stack, this
  process's memory embedded), raising `LimitExceeded` with the seconds to wait;
- `throttles`: the REST API's DRF throttles over them (uploads per minute, queued jobs).

Whether there is *room* (the workers keep up) is admission control's question, not this one's:
a client under its limits may still be told the service is busy (close code 1013, 503).
"""
