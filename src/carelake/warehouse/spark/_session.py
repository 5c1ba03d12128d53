"""The one SparkSession a process keeps (starting a JVM costs seconds), and Spark's errors made readable."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from types import FrameType
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
        logging.getLogger().addFilter(_quiet_py4j)
        with _signals_held():
            spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        _sessions[master] = spark
    return _sessions[master]


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while the JVM starts, then deliver them: stopped before it had connected, pyspark left
    its JVM running for good (it never learnt that Python was gone) and holding the terminal's pipes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        caught.append(signum)

    before = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in before.items():
            if signal.getsignal(s) is hold:  # SparkContext puts its own Ctrl-C handler in place of ours: it stays
                signal.signal(s, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


def _quiet_py4j(record: logging.LogRecord) -> bool:
    """py4j logs its connection errors to the root logger with a traceback (on Ctrl-C, one per call in flight); the
    error itself reaches carelake as an exception and is reported once. Shown with --debug."""
    return f"{os.sep}py4j{os.sep}" not in record.pathname or logging.getLogger().isEnabledFor(logging.DEBUG)


def first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
