# The two commands of the README. Both set everything up first (scripts/setup.sh is idempotent).
.PHONY: app test setup bench demo-data

setup:
	@bash scripts/setup.sh

app: setup
	.venv/bin/workbench app

test: setup
	.venv/bin/python -m pytest -n 2 --dist loadgroup

bench: setup
	.venv/bin/python bench/import.py
	.venv/bin/python bench/analyze.py
	.venv/bin/python bench/detectors.py

demo-data: setup
	.venv/bin/python -m workbench.demo_data
