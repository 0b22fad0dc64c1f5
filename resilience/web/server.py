"""Start the app with uvicorn: 127.0.0.1 unless another host is asked for (with a
warning), the embedded data set unless a workbook is named."""

from __future__ import annotations

import sys
from pathlib import Path

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def serve(host: str = "127.0.0.1", port: int = 8050, book: Path | None = None) -> None:
    try:
        import uvicorn

        from resilience.web.app import create_app, plotly_js
        plotly_js()
    except (ImportError, RuntimeError):
        raise SystemExit("resilience serve needs the web extra: pip install 'resilience[web]'"
                         ) from None
    from resilience.library import demo_workbook

    if book is None:
        path, label = demo_workbook(), "the embedded data set (critical-inputs.xlsx)"
    else:
        path, label = book.resolve(), book.name
    if host not in LOCAL_HOSTS:  # no Host check either: the machine's names are unknown
        print(f"Warning: serving on {host}: anyone who can reach this machine on port "
              f"{port} can use the app, upload workbooks and run solves.", file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    print(f"resilience serve: http://{shown}:{port}/ (Ctrl-C to stop)", flush=True)
    local = host in LOCAL_HOSTS
    app = create_app(path, label, allowed_hosts=["127.0.0.1", "localhost", "[::1]", "::1"]
                     if local else None)
    uvicorn.run(app, host=host, port=port, log_level="warning")
