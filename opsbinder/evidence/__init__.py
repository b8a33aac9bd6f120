"""The monthly evidence pack: a client's month as proof for them and their auditor.

`gather` (pack.py) computes every figure in SQL from the store; `write_pack` (files.py) writes
it as JSON, HTML and PDF with a SHA-256 manifest naming the audit chain's anchor at month end.
"""
