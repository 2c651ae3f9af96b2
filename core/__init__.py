"""Domain Check's shared core: parsing, TLS and RDAP checks, the engine, clients.

Pure Python, shared by every front end; it never imports Qt, FastAPI or SQLAlchemy
(``tests/test_boundaries.py`` enforces that).
"""

__version__ = "0.1.0"
