"""The handover binder: what a successor support firm receives, and the checks that it is whole.

export (site + Markdown + machine-readable binder), completeness (the audit), verification (a
third party's dry run), importer (the successor's side) and lockdown (the immediate hand-back).
"""
