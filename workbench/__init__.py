"""QVQ trace workbench: store, importers, detectors, model runner and probes, Streamlit app.

Import-light by design: nothing here imports torch or transformers; only workbench.models does,
lazily, when a model is actually run.
"""

__version__ = "0.1.0"
