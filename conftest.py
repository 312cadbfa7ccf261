"""Repository-wide pytest configuration.

Golden cells: a code cell tagged both ``keep_output`` and ``nbval-check-output`` keeps its
output in git (nbstripout keeps outputs of ``keep_output`` cells but nulls the execution
count). nbval treats a cell with a null count as "never run" and would either skip the
comparison or fail with "Unrun reference cell has outputs". The hook below marks such cells
as run, so nbval compares their fresh output with the stored one. It relies on nbval's
``item.cell``, which is why pyproject.toml pins nbval exactly; tests/test_pipeline.py proves
that a corrupted golden output still fails.
"""

collect_ignore = ["tests/fixtures", ".venv", "artifacts", "build", "my-work"]  # my-work: a learner's own copies


def pytest_itemcollected(item):
    cell = getattr(item, "cell", None)  # nbval's IPyNbCell carries the notebook cell
    if cell is None:
        return
    tags = cell.get("metadata", {}).get("tags", [])
    if "keep_output" in tags and cell.get("execution_count") is None and cell.get("outputs"):
        cell["execution_count"] = 0  # "run", so nbval compares the stored output
