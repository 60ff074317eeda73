"""DfE's further education learners (``dfe.learners``): one row per learning aim, by place."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from trust.demo import arrays
from trust.demo import reference as ref
from trust.demo.people import People, members, places, sorted_by_place

_S = pa.string()
SCHEMAS: dict[str, pa.Schema] = {
    "dfe.learners": pa.schema(
        [
            ("person_id", _S),
            ("academic_year", _S),
            ("qualification_level", _S),
            ("provider_id", _S),
            ("subject_area", _S),
            ("achieved", pa.bool_()),
            ("la_code", _S),
            ("region", _S),
        ]
    ),
}


def learners(pop: People, scale: float, seed: int) -> pa.Table:
    gen = arrays.rng(seed, 6)
    people_learning = members(pop, gen, {"uc": 0.10, "employed": 0.05, "learners": 1.0})
    aims = 1 + arrays.choice(gen, [0.70, 0.22, 0.08], len(people_learning))
    rows = sorted_by_place(pop, np.repeat(people_learning, aims))
    n = len(rows)
    on_uc = np.isin(rows, pop.pools["uc"])
    level = np.where(
        on_uc,
        arrays.choice(gen, [0.20, 0.25, 0.30, 0.20, 0.05], n),
        arrays.choice(gen, [0.08, 0.15, 0.33, 0.30, 0.14], n),
    )
    providers = int(np.clip(round(250 * scale), 20, 2_000))
    provider = arrays.choice(gen, gen.pareto(1.2, providers) + 0.05, n)
    subject = arrays.choice(gen, [w for _, w in ref.SUBJECT_AREAS], n)
    columns = {
        "person_id": arrays.fixed(pop.pid[rows]),
        "academic_year": np.full(n, "2024/25"),
        "qualification_level": arrays.labels(ref.QUALIFICATION_LEVELS, level),
        "provider_id": pa.array((10_000_001 + provider).astype(str)),
        "subject_area": arrays.labels([s for s, _ in ref.SUBJECT_AREAS], subject),
        "achieved": gen.random(n) < np.where(on_uc, 0.75, 0.86),
        **places(pop.la[rows]),
    }
    return arrays.table(SCHEMAS["dfe.learners"], columns)
