"""arq workers: they meet the gateway only through Postgres rows and the job names in ``shared.jobs``."""
