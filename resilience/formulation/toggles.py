"""One model for several strategies: every strategy's rows built once, switched by bounds.

compare solves the same data under many strategies. Instead of building a model per
strategy, the union of their Policies rows is built once; for each strategy the rows of
the other strategies get infinite bounds (they constrain nothing) and the offers its
`exclude` rows forbid get zero upper bounds. HiGHS keeps the model between solves.
"""

from __future__ import annotations

import numpy as np

from resilience.formulation import families as F
from resilience.formulation.build import BuiltModel

POLICY_FAMILIES = (F.POLICY_SHARE, F.POLICY_HHI)


class StrategySwitch:
    def __init__(self, built: BuiltModel, tags: list[str | None]):
        """`tags[i]` is the strategy of policy i of the built instance (None: always on)."""
        self.built = built
        self.tags = tags
        self.rows = {}
        for family in POLICY_FAMILIES:
            block = built.layout.row_blocks.get(family)
            if block is not None and block.size:
                owner_tags = [tags[owner.policy_index] for owner in block.owners]
                self.rows[family] = (block.lower.copy(), block.upper.copy(), owner_tags)
        self.columns = {name: built.layout.columns[name].upper.copy()
                        for name in (F.CONTRACT, F.FIRM_ORDER, F.RESERVE, F.SPOT)}

    def select(self, session, strategy: str | None, excluded: np.ndarray) -> set[int]:
        """Switch the session to `strategy`; `excluded` flags the offer items its exclude
        rows forbid (`data.excluded_items`). Returns the indices of the policies now in
        force."""
        for family, (lower, upper, owner_tags) in self.rows.items():
            on = np.array([t is None or t == strategy for t in owner_tags])
            session.set_row_bounds(family, np.arange(len(on)),
                                   np.where(on, lower, -np.inf), np.where(on, upper, np.inf))
        layout = self.built.layout
        for name, upper in self.columns.items():
            block = layout.columns[name]
            if not block.size:
                continue
            # an excluded offer is out of orders, reserve and (SPEC §7) spot alike
            forbid = {F.RESERVE: lambda: excluded[layout.maps[F.RESERVE]],
                      F.SPOT: lambda: excluded[layout.maps[F.SPOT][1]]}.get(
                name, lambda: excluded)()
            session.set_column_bounds(block.index, block.lower,
                                      np.where(forbid, 0.0, upper))
        return {i for i, t in enumerate(self.tags) if t is None or t == strategy}
