"""The app's helpers. Pages import from here; this package imports the pipeline, pandas,
Altair and Streamlit, never the other way round.

- app_shell: page config, navigation, how every page starts; sidebar: the shared sidebar
- data: loaders (cached queries into frames); actions: what buttons change
- display: frames as tables show them; charts, kpis, aggregate: the Live page's figures
- explore: the Explore page's SQL answers as table, chart, CSV and summary
- page_parts, errors: titles, empty states, toasts; readable stops instead of tracebacks
- numfmt, timefmt, untrusted_text: numbers, times, and text from data made safe for Markdown
- backend, continuous: the AWS backend and the background simulator
- edit_panel, site_editor: editing a reading, editing sites
"""
