"""Raw-SQL data access, one module per table group. Every query is scoped by tenant."""
