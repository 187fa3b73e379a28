"""What evaluate keeps of classify's rows: a Writer (tui.classify.writers) that, instead of
printing rows, holds each file's probabilities or error, in the order the files were given."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tui.classify.rows import Row


@dataclass
class Collector:
    """The rows of one model, as classify made them: good files' probabilities, bad files' errors."""

    labels: list[str]
    paths: list[str] = field(default_factory=list)  # every file, in order
    good: list[int] = field(default_factory=list)  # indices into paths of the classified files
    probabilities: list[np.ndarray] = field(default_factory=list)  # [C] each, the model's label order
    errors: list[dict] = field(default_factory=list)  # {path, error}

    def write(self, batch: list[list[Row]]) -> None:
        """Keep one batch of files (one row each: evaluate runs one model)."""
        for rows in batch:
            row = rows[0]
            index = len(self.paths)
            self.paths.append(str(row.path))
            if row.error is not None or row.probabilities is None:
                self.errors.append({"path": str(row.path), "error": row.error or "no probabilities"})
                continue
            self.good.append(index)
            self.probabilities.append(np.fromiter((row.probabilities[label] for label in self.labels),
                                                  np.float64, len(self.labels)))

    def matrix(self) -> np.ndarray:
        """The classified files' probabilities [N, C]."""
        if not self.probabilities:
            return np.zeros((0, len(self.labels)))
        return np.stack(self.probabilities)
