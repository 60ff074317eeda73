"""Statistical disclosure control: one rule per module, composed by ``protect`` (docs/disclosure.md).

- ``cells``: the frozen values rules work on (``CellStats``, ``Parameters``, ``Finding``)
- ``zeros``, ``min_units``, ``negative``, ``dominance``, ``p_percent``, ``extremes``: primary rules
- ``primary``: the rules in order for one cell
- ``linked``: which cells of an output add up to which (totals, margins)
- ``secondary``: complementary suppression so no hidden cell can be recovered
- ``rounding``: rounding to a base with totals consistent
- ``sketch``, ``differencing``: population fingerprints and the check across a project's outputs
- ``report``: the per-cell report; ``protect``: the pipeline stage
"""
