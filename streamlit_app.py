"""The analyst's app: `streamlit run streamlit_app.py` (or `make run`).

The page config, the navigation (the list of pages) and the shared sidebar are in
dashboard/app_shell.py, because a page opened by a deep link on a fresh server has to
start the same frame itself (see there). Each page fetches what it needs from cached
helpers in dashboard/, so it does not depend on anything set up here.
"""

from dashboard import app_shell

app_shell.run()
