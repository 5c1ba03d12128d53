"""Spark backend (local mode): tables are Parquet folders; loads are made atomic by staging and swapping."""

from carelake.warehouse.spark._backend import SparkWarehouse

__all__ = ["SparkWarehouse"]
