"""The Parquet trajectory store (see :mod:`mouselab.store.core`)."""

from mouselab.store.core import Store, StoreError, Transaction, WriteSummary

__all__ = ["Store", "StoreError", "Transaction", "WriteSummary"]
