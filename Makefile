# The two commands of the README. Both set everything up first (scripts/setup.sh is idempotent).
.PHONY: app test lint setup bench demo-data

setup:
	@bash scripts/setup.sh

app: setup
	.venv/bin/workbench app

# Lint and type check first (settings in pyproject.toml): a finding fails the command before pytest starts.
test: lint
	.venv/bin/python -m pytest -n 2 --dist loadgroup

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

bench: setup
	.venv/bin/python bench/import.py
	.venv/bin/python bench/analyze.py
	.venv/bin/python bench/detectors.py

demo-data: setup
	.venv/bin/python -m workbench.demo_data
