"""The one SparkSession a process keeps (starting a JVM costs seconds), and Spark's errors made readable."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import Any

__all__ = ["first_line", "spark_session"]

_sessions: dict[str, Any] = {}


def spark_session(master: str) -> Any:
    """One SparkSession per process: starting a JVM costs seconds."""
    if master not in _sessions:
        from pyspark.sql import SparkSession

        os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", "python3"))
        # Every table has its own LOCATION under the warehouse root; Spark's own warehouse folder gets only the empty
        # folders of CREATE DATABASE, so it goes in a temporary folder removed at exit, not ./spark-warehouse.
        spark_dir = tempfile.mkdtemp(prefix="carelake-spark-")
        atexit.register(shutil.rmtree, spark_dir, ignore_errors=True)
        builder = (
            SparkSession.builder.master(master)
            .appName("carelake")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "2g")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.sql.warehouse.dir", spark_dir)
        )
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        _sessions[master] = spark
    return _sessions[master]


def first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
