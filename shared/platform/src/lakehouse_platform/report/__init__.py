"""Self-contained HTML reports: ``gather`` reads the platform's state through the catalog and
Delta, ``figures`` turns it into plotly figures, ``html`` writes one page with plotly.js inlined
(readable without a server or network); ``command`` is ``lakehouse report``."""
