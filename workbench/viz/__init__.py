"""Pure renderers: HTML, figures and images from data. No Streamlit, no I/O."""
