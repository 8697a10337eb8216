"""What every app may use and that uses no app: rate limits, metrics, the rate-limit
cache, the outage handling, link checks, the CSP middleware, the database switch.

The bottom layer (docs/architecture.md): it imports Django and libraries, never `helpdesk`,
`knowledge`, `chat` or `tickets`."""
