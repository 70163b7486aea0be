"""The hour ledger: append-only, double-entry, hash-chained (时间账本)."""
