"""Stand-in for the `ray` package (tests only): the vllm backend checks that Ray is importable before it
asks vLLM for the Ray executor; the fake vLLM engine records that it was asked."""
