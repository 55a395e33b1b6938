"""Streamlit-facing code: cached store access and reusable components. The only place besides
pages/ and app.py that imports streamlit."""
