"""Look inside the model: attention to image tokens and visual dependence along stored traces
(torch only in capture/forward)."""
