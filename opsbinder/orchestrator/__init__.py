"""The one adapter between the core and Prefect: everything that imports Prefect lives here."""
