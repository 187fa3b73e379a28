"""How to add dl-tui's optional parts: one text for the app, `dl-tui` and `dl-train` (which imports it)."""

TRAIN_EXTRA = "pip install 'dl-tui[train]'"
NO_TENSORFLOW = f"training needs TensorFlow, which this install does not have: {TRAIN_EXTRA}"
CLUSTER_EXTRA = "pip install 'dl-tui[cluster]'"  # dl-tui classify --engine ray
