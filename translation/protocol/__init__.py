"""The wire protocol in one place, on the ground floor: what a client sends (`control`), what
the server sends (`messages`), and the JSON Schema of both (`schema`, published for the UI).
`jobs/`, `messaging/` and `streaming/` import it downward."""
