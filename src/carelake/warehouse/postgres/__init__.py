"""PostgreSQL backend: where most OMOP sites live."""

from carelake.warehouse.postgres._backend import PostgresWarehouse

__all__ = ["PostgresWarehouse"]
