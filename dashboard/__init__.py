"""The app's helpers: cached loaders, charts, widgets, the backend and the background simulator.

Pages import from here; this package imports the pipeline, pandas, Altair and Streamlit,
never the other way round.
"""
