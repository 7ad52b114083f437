"""`latentatlas explore RUN_DIR`: a live page where the latent map and the decoder work together.

    state.py     the model, codes, images, 2-D views and colourings, loaded once
    inverse.py   the rule that turns a place on a 2-D view into a latent code
    api.py       the API as plain functions (all input checks)
    security.py  token, Host check, request bounds (ASGI middleware)
    server.py    the Starlette app and uvicorn
    notebook.py  an IFrame to a running server, for Jupyter
    static/      the page (plotly.js comes from the installed plotly package)
"""
