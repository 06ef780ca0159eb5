"""Persistence: SQLAlchemy tables, the database handle, queries and Alembic migrations."""
