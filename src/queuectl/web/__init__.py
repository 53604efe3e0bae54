"""The web dashboard and JSON API (``queuectl web``; SPEC section 15).

A thin layer over :class:`queuectl.Queue`, the same API the CLI uses: handlers parse the
request, call ``Queue`` in a worker thread and render a Jinja2 template or a JSON document; no
SQL lives here. Pages are rendered on the server; one small script of our own (``live.js``)
refreshes the live parts of a page when the server-sent event stream says the store changed.

    server.py    the command: exposure check, the listening socket, uvicorn
    app.py       the Starlette application: routes, errors, start-up and shutdown
    security.py  authentication, the cross-site POST rule, read-only, response headers
    pages.py     the HTML pages (and the names of the pages phase 2 adds)
    api_v1.py    /api/v1: the CLI's --json documents
    actions.py   what a person may do to jobs, per job, on a selection or on a filter
    live.py      change notices: a watcher thread and the event stream
    pool.py      a few Queue handles shared by request threads
    chart.py     the completed/failed per minute chart, drawn as SVG on the server
    formatting.py  how times, ages, durations and output read on a page (Jinja2 filters)

Nothing in queuectl imports this package except the ``web`` command, so the CLI and the
library never load Starlette, Jinja2 or uvicorn.
"""
