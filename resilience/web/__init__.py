"""`resilience serve`: a local web app over the same Python API as the command line.

The server (Starlette, `app.py`) renders pages and holds each browser session's
uploads and runs; every workbook read and every solve happens in a worker process
(`worker.py`, started and cancelled by `jobs.py`), never in the server. See docs/web.md.
"""
