"""`latentatlas explore RUN_DIR`: a live page where the latent map and the decoder work together.

    state.py     the model, codes, images, 2-D views and colourings, loaded once
    inverse.py   the rule that turns a place on a 2-D view into a latent code
    api.py       the API as plain functions (all input checks)
    security.py  token, Host and Origin checks, JSON-only bodies, request bounds (ASGI middleware)
    bounds.py    slow clients (a deadline for request heads, a connection limit) and work queues
    assets.py    the page's files under hashed names, gzipped, cached as immutable
    packing.py   columns of numbers as one binary body (the points, read as typed arrays)
    fields.py    per-point fields to colour by: reconstruction error, KL, each latent dimension
    columns.py   the user's own columns, from `--columns my.csv`
    sprites.py   the images of the points in view as one PNG atlas (drawn in place of dots)
    server.py    the Starlette app and uvicorn (SIGINT and SIGTERM: exit 0, "stopped")
    notebook.py  an IFrame to a running server, for Jupyter
    static/      the page: explore.js (map, decodes, walks), selection.js, sprites.js, share.js
                 (the state in the address's hash); plotly.js comes from the installed plotly
"""
