"""The users' mailbox: SMTP in (the org's activation and enrolment emails), an HTTP API to read them."""
