"""Manager reports: figures computed in SQL, rendered as HTML with charts, CSV or JSON."""
