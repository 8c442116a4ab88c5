"""The analyst's app: `streamlit run streamlit_app.py` (or `make run`).

Page config, the navigation and the sidebar every page shares. Each page fetches what it
needs from cached helpers in dashboard/, so it does not depend on anything set up here.
"""

import streamlit as st

from dashboard import widgets

st.set_page_config(page_title="Energy pipeline", page_icon=":material/bolt:", layout="wide")

navigation = st.navigation(
    {
        "Analyse": [
            st.Page("pages/live.py", title="Live", icon=":material/monitoring:", default=True),
            st.Page("pages/records.py", title="Records", icon=":material/table_rows:"),
        ],
        "Data in": [
            st.Page("pages/simulate.py", title="Simulate", icon=":material/science:"),
            st.Page("pages/files.py", title="Files", icon=":material/folder_open:"),
            st.Page("pages/sites.py", title="Sites", icon=":material/location_on:"),
        ],
        "Operate": [
            st.Page("pages/operations.py", title="Operations", icon=":material/monitor_heart:"),
        ],
    }
)
widgets.sidebar()
navigation.run()
