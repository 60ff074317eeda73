from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from trust.demo import generate as g
from trust.demo import reference as ref

EXPECTED_COLUMNS = {
    "dwp.uc_claims": [
        ("person_id", "string"),
        ("nino", "string"),
        ("date_of_birth", "date32[day]"),
        ("sex", "string"),
        ("age_band", "string"),
        ("la_code", "string"),
        ("region", "string"),
        ("claim_start", "date32[day]"),
        ("conditionality_regime", "string"),
        ("award_amount", "double"),
        ("opted_out", "bool"),
        ("postcode_district", "string"),
        ("work_coach_office", "string"),
        ("household_type", "string"),
        ("number_of_children", "int8"),
        ("marital_status", "string"),
        ("nationality_group", "string"),
        ("disability_flag", "bool"),
        ("tenure", "string"),
        ("employment_status", "string"),
        ("journey_channel", "string"),
        ("payment_frequency", "string"),
        ("assessment_period_start", "date32[day]"),
        ("standard_allowance", "double"),
        ("housing_element", "double"),
        ("housing_cost_band", "string"),
        ("child_element", "double"),
        ("lcwra_element", "double"),
        ("carer_element", "double"),
        ("childcare_element", "double"),
        ("earnings_deduction", "double"),
        ("sanction_deduction", "double"),
        ("advance_repayment", "double"),
        ("last_updated", "timestamp[us]"),
    ],
    "dwp.pip_awards": [
        ("person_id", "string"),
        ("nino", "string"),
        ("la_code", "string"),
        ("region", "string"),
        ("health_condition_group", "string"),
        ("daily_living_award", "string"),
        ("mobility_award", "string"),
        ("award_start", "date32[day]"),
        ("weekly_amount", "double"),
    ],
    "hmrc.paye_employments": [
        ("person_id", "string"),
        ("employer_id", "string"),
        ("tax_year", "string"),
        ("tax_month", "int16"),
        ("gross_pay", "double"),
        ("tax_paid", "double"),
        ("payment_date", "date32[day]"),
        ("pay_frequency", "string"),
        ("taxable_pay_to_date", "double"),
        ("tax_paid_to_date", "double"),
        ("tax_code", "string"),
        ("ni_category", "string"),
        ("employee_ni", "double"),
        ("employer_ni", "double"),
        ("student_loan_deduction", "double"),
        ("pension_contributions", "double"),
        ("occupational_pension", "double"),
        ("benefits_in_kind", "double"),
        ("hours_worked_band", "string"),
        ("irregular_payment", "bool"),
        ("starter_flag", "bool"),
        ("leaver_flag", "bool"),
        ("payroll_id_changed", "bool"),
        ("submission_id", "string"),
        ("received_at", "timestamp[us]"),
    ],
    "dfe.learners": [
        ("person_id", "string"),
        ("academic_year", "string"),
        ("qualification_level", "string"),
        ("provider_id", "string"),
        ("subject_area", "string"),
        ("achieved", "bool"),
        ("la_code", "string"),
        ("region", "string"),
    ],
    "desnz.businesses": [
        ("employer_id", "string"),
        ("sic2007", "string"),
        ("sic_section", "string"),
        ("size_band", "string"),
        ("region", "string"),
        ("la_code", "string"),
        ("employee_count", "int32"),
        ("turnover", "double"),
    ],
}
EXPECTED_FILES = {
    "dwp.uc_claims": ["dwp/uc_claims/part-0000.parquet", "dwp/uc_claims/part-0001.parquet"],
    "dwp.pip_awards": ["dwp/pip_awards/part-0000.parquet"],
    "hmrc.paye_employments": [f"hmrc/paye_employments/part-000{i}.parquet" for i in range(4)],
    "dfe.learners": ["dfe/learners/part-0000.parquet"],
    "desnz.businesses": ["desnz/businesses/part-0000.parquet"],
}


def read(data: g.DemoData, dataset_id: str) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in data[dataset_id].paths)


def file_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def test_same_seed_and_scale_give_identical_bytes(tmp_path: Path) -> None:
    g.generate(tmp_path / "a", scale=0.05, seed=7)
    g.generate(tmp_path / "b", scale=0.05, seed=7)
    g.generate(tmp_path / "c", scale=0.05, seed=8)
    a, b, c = (file_bytes(tmp_path / x) for x in "abc")
    assert sorted(a) == sorted(f for files in EXPECTED_FILES.values() for f in files)
    assert a == b
    assert all(a[name] != c[name] for name in a)


def test_layout_and_description_match_disk(demo: g.DemoData) -> None:
    assert set(demo.datasets) == set(EXPECTED_FILES)
    for dataset_id, files in EXPECTED_FILES.items():
        d = demo[dataset_id]
        assert [str(p.relative_to(demo.out_dir)) for p in d.paths] == files
        assert d.rows == sum(pq.ParquetFile(p).metadata.num_rows for p in d.paths) > 0
        assert d.bytes == sum(p.stat().st_size for p in d.paths)
        for p in d.paths:
            meta = pq.ParquetFile(p).metadata
            assert meta.row_group(0).column(0).compression == "ZSTD"
            assert all(meta.row_group(i).num_rows <= g.ROW_GROUP_SIZE for i in range(meta.num_row_groups))


@pytest.mark.parametrize("dataset_id", sorted(EXPECTED_COLUMNS))
def test_columns_and_types_exactly(demo: g.DemoData, dataset_id: str) -> None:
    for path in demo[dataset_id].paths:
        schema = pq.read_schema(path)
        assert [(f.name, str(f.type)) for f in schema] == EXPECTED_COLUMNS[dataset_id]


def test_uc_rows_scale_linearly_plus_fixed_corners(demo: g.DemoData) -> None:
    assert demo["dwp.uc_claims"].rows == round(20_000 * demo.scale) + 1 + sum(g.SMALL_AREA_CLAIMANTS.values())


def test_small_areas_hold_exactly_their_claimants(demo: g.DemoData) -> None:
    counts = read(demo, "dwp.uc_claims").group_by("la_code").aggregate([("person_id", "count_distinct")])
    by_la = dict(zip(counts["la_code"].to_pylist(), counts["person_id_count_distinct"].to_pylist(), strict=True))
    assert {la: by_la[la] for la in g.SMALL_AREA_CLAIMANTS} == {"E06000053": 3, "E09000001": 7, "E06000017": 10}
    assert g.ISLES_OF_SCILLY == "E06000053" and g.CITY_OF_LONDON == "E09000001"


def test_small_areas_survive_the_dwp_opt_out_filter(demo: g.DemoData) -> None:
    # DWP's policy adds "NOT opted_out" to every dwp.uc_claims query; the corners must hold after it.
    uc = read(demo, "dwp.uc_claims")
    kept = uc.filter(pc.invert(uc["opted_out"]))
    counts = kept.group_by("la_code").aggregate([("person_id", "count_distinct")])
    by_la = dict(zip(counts["la_code"].to_pylist(), counts["person_id_count_distinct"].to_pylist(), strict=True))
    assert {la: by_la[la] for la in g.SMALL_AREA_CLAIMANTS} == dict(g.SMALL_AREA_CLAIMANTS)
    assert g.MULTI_JOB_PERSON_ID in set(kept["person_id"].to_pylist())
    assert pc.sum(uc["opted_out"]).as_py() > 0  # the filter still has people to remove elsewhere


def test_geography_is_real_codes_over_all_english_regions(demo: g.DemoData) -> None:
    region_of = {code: region for code, _, region, _ in ref.LOCAL_AUTHORITIES}
    assert len(region_of) == len(ref.LOCAL_AUTHORITIES) >= 40
    assert set(region_of.values()) == set(ref.REGIONS) == {f"E1200000{i}" for i in range(1, 10)}
    for dataset_id in ("dwp.uc_claims", "dwp.pip_awards", "dfe.learners", "desnz.businesses"):
        t = read(demo, dataset_id)
        pairs = set(zip(t["la_code"].to_pylist(), t["region"].to_pylist(), strict=True))
        assert all(region_of[la] == region for la, region in pairs), dataset_id
    uc_regions = set(read(demo, "dwp.uc_claims")["region"].to_pylist())
    assert uc_regions == set(ref.REGIONS)


def test_person_ids_link_across_departments(demo: g.DemoData) -> None:
    uc = read(demo, "dwp.uc_claims")
    uc_ids = set(uc["person_id"].to_pylist())
    assert len(uc_ids) == uc.num_rows
    assert all(len(p) == 16 and p[0] == "p" and int(p[1:], 16) >= 0 for p in uc_ids)
    ninos = uc["nino"].to_pylist()
    assert len(set(ninos)) == len(ninos) and all(n[0] == "Q" and n[2:8].isdigit() for n in ninos)
    for dataset_id in ("dwp.pip_awards", "hmrc.paye_employments", "dfe.learners"):
        shared = uc_ids & set(read(demo, dataset_id)["person_id"].to_pylist())
        assert len(shared) > 0.03 * len(uc_ids), dataset_id
    # The same person keeps the same NINO and local authority in another department.
    pip = read(demo, "dwp.pip_awards")
    uc_rows = {
        p: (n, la) for p, n, la in zip(uc["person_id"].to_pylist(), ninos, uc["la_code"].to_pylist(), strict=True)
    }
    pip_rows = zip(pip["person_id"].to_pylist(), pip["nino"].to_pylist(), pip["la_code"].to_pylist(), strict=True)
    assert all(uc_rows[p] == (n, la) for p, n, la in pip_rows if p in uc_rows)
    # PAYE employers are registered businesses.
    employers = set(read(demo, "desnz.businesses")["employer_id"].to_pylist())
    assert set(read(demo, "hmrc.paye_employments")["employer_id"].to_pylist()) <= employers


def test_one_paye_row_per_person_employer_month(demo: g.DemoData) -> None:
    paye = read(demo, "hmrc.paye_employments")
    keys = set(zip(*(paye[c].to_pylist() for c in ("person_id", "employer_id", "tax_month")), strict=True))
    assert len(keys) == paye.num_rows


def test_about_sixty_percent_of_claimants_are_employed(demo: g.DemoData) -> None:
    uc_ids = set(read(demo, "dwp.uc_claims")["person_id"].to_pylist())
    employed = uc_ids & set(read(demo, "hmrc.paye_employments")["person_id"].to_pylist())
    assert 0.5 < len(employed) / len(uc_ids) < 0.7


def _completed_age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_age_band_matches_date_of_birth(demo: g.DemoData) -> None:
    uc = read(demo, "dwp.uc_claims")
    bands = [
        ("16-24", 16, 24),
        ("25-34", 25, 34),
        ("35-44", 35, 44),
        ("45-54", 45, 54),
        ("55-64", 55, 64),
        ("65+", 65, 200),
    ]
    for born, band in zip(uc["date_of_birth"].to_pylist(), uc["age_band"].to_pylist(), strict=True):
        age = _completed_age(born, date(2025, 4, 1))
        assert [b for b, lo, hi in bands if lo <= age <= hi] == [band], (born, band)


def test_age_band_boundaries() -> None:
    import numpy as np

    dob = np.array(["2009-04-01", "2009-04-02", "2000-04-01", "2000-04-02", "1960-04-01"], dtype="M8[D]")
    assert g.age_band_index(dob).tolist() == [0, -1, 1, 0, 5]


def test_businesses_are_consistent(demo: g.DemoData) -> None:
    biz = read(demo, "desnz.businesses")
    assert len(set(biz["employer_id"].to_pylist())) == biz.num_rows
    divisions = {
        "A": (1, 3),
        "B": (5, 9),
        "C": (10, 33),
        "D": (35, 35),
        "E": (36, 39),
        "F": (41, 43),
        "G": (45, 47),
        "H": (49, 53),
        "I": (55, 56),
        "J": (58, 63),
        "K": (64, 66),
        "L": (68, 68),
        "M": (69, 75),
        "N": (77, 82),
        "O": (84, 84),
        "P": (85, 85),
        "Q": (86, 88),
        "R": (90, 93),
        "S": (94, 96),
        "T": (97, 98),
        "U": (99, 99),
    }
    for row in biz.to_pylist():
        lo, hi = divisions[row["sic_section"]]
        assert lo <= int(row["sic2007"][:2]) <= hi and len(row["sic2007"]) == 5, row
        n = row["employee_count"]
        band = (
            "Micro (0-9)" if n < 10 else "Small (10-49)" if n < 50 else "Medium (50-249)" if n < 250 else "Large (250+)"
        )
        assert row["size_band"] == band, row
        assert len(row["employer_id"]) == 8 and row["employer_id"][0] == "E" and row["employer_id"][1:].isdigit()
        assert row["turnover"] > 0


def _shares(table: pa.Table, key: str, value: str) -> list[float]:
    sums = table.group_by(key).aggregate([(value, "sum")])[f"{value}_sum"].to_pylist()
    return sorted((s / sum(sums) for s in sums), reverse=True)


def test_turnover_dominance_corners(demo: g.DemoData) -> None:
    biz = read(demo, "desnz.businesses")
    single = biz.filter(pc.equal(biz["sic2007"], g.SINGLE_DOMINANCE_SIC))
    assert single.filter(pc.equal(single["employer_id"], g.SINGLE_DOMINANT_EMPLOYER)).num_rows == 1
    top = _shares(single, "employer_id", "turnover")
    assert top[0] == pytest.approx(g.SINGLE_DOMINANT_SHARE) and top[0] >= 0.92
    # The whole of section B is that sector, so the corner holds at section level too.
    section_b = biz.filter(pc.equal(biz["sic_section"], "B"))
    assert section_b.num_rows == single.num_rows
    two = biz.filter(pc.equal(biz["sic2007"], g.TWO_DOMINANCE_SIC))
    top = _shares(two, "employer_id", "turnover")
    assert top[0] + top[1] == pytest.approx(g.TWO_DOMINANT_SHARE) and top[0] + top[1] >= 0.95
    assert top[0] < 0.9  # no single business dominates there: it is the (2, k) case
    leaders = two.sort_by([("turnover", "descending")])["employer_id"].to_pylist()[:2]
    assert tuple(leaders) == g.TWO_DOMINANT_EMPLOYERS


def test_paye_dominance_corner(demo: g.DemoData) -> None:
    biz = read(demo, "desnz.businesses")
    paye = read(demo, "hmrc.paye_employments")
    sector = set(biz.filter(pc.equal(biz["sic_section"], "D"))["employer_id"].to_pylist())
    assert sector == set(biz.filter(pc.equal(biz["sic2007"], g.PAYE_DOMINANCE_SIC))["employer_id"].to_pylist())
    rows = paye.filter(pc.is_in(paye["employer_id"], pa.array(sorted(sector))))
    shares = _shares(rows, "employer_id", "gross_pay")
    assert shares[0] == pytest.approx(g.PAYE_DOMINANT_SHARE) and shares[0] >= 0.9
    top = (
        rows.group_by("employer_id")
        .aggregate([("gross_pay", "sum")])
        .sort_by([("gross_pay_sum", "descending")])["employer_id"][0]
        .as_py()
    )
    assert top == g.PAYE_DOMINANT_EMPLOYER
    for month in range(1, 13):
        in_month = rows.filter(pc.equal(rows["tax_month"], month))
        assert _shares(in_month, "employer_id", "gross_pay")[0] == pytest.approx(g.PAYE_DOMINANT_SHARE)


def test_multi_job_person(demo: g.DemoData) -> None:
    paye = read(demo, "hmrc.paye_employments")
    mine = paye.filter(pc.equal(paye["person_id"], g.MULTI_JOB_PERSON_ID))
    assert mine.num_rows == 12 * g.MULTI_JOB_EMPLOYERS
    assert len(set(mine["employer_id"].to_pylist())) == g.MULTI_JOB_EMPLOYERS
    uc = read(demo, "dwp.uc_claims")
    assert g.MULTI_JOB_PERSON_ID in set(uc["person_id"].to_pylist())
    # Any single row is small; only the per-person subtotal is large.
    pay = mine["gross_pay"].to_pylist()
    assert max(pay) < sum(pay) / 30


def test_sort_orders_make_statistics_useful(demo: g.DemoData) -> None:
    uc = read(demo, "dwp.uc_claims")["la_code"].to_pylist()
    assert uc == sorted(uc)
    for quarter, path in enumerate(demo["hmrc.paye_employments"].paths):
        months = pq.read_table(path, columns=["tax_month"])["tax_month"].to_pylist()
        assert months == sorted(months)
        assert set(months) == {3 * quarter + 1, 3 * quarter + 2, 3 * quarter + 3}
        meta = pq.ParquetFile(path).metadata
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(3).statistics
            assert stats.has_min_max and stats.min == stats.max  # row groups never straddle months


def test_values_are_plausible(demo: g.DemoData) -> None:
    uc = read(demo, "dwp.uc_claims")
    assert 5 <= pc.min(uc["award_amount"]).as_py() and pc.max(uc["award_amount"]).as_py() <= 6_000
    assert 700 < pc.mean(uc["award_amount"]).as_py() < 1_200
    assert 0.005 < pc.mean(pc.cast(uc["opted_out"], pa.float64())).as_py() < 0.04
    assert set(uc["conditionality_regime"].to_pylist()) == {r for r, _ in ref.CONDITIONALITY_REGIMES}
    assert (
        date(2019, 1, 1) <= pc.min(uc["claim_start"]).as_py() <= pc.max(uc["claim_start"]).as_py() <= date(2025, 4, 5)
    )
    paye = read(demo, "hmrc.paye_employments")
    assert set(paye["tax_year"].to_pylist()) == {"2024-25"}
    assert pc.min(paye["gross_pay"]).as_py() > 0 and pc.max(paye["gross_pay"]).as_py() > 10_000
    assert pc.all(pc.less_equal(paye["tax_paid"], paye["gross_pay"])).as_py()
    pip = read(demo, "dwp.pip_awards")
    assert not any(
        d == m == "None"
        for d, m in zip(pip["daily_living_award"].to_pylist(), pip["mobility_award"].to_pylist(), strict=True)
    )


def test_ensure_generated_reuses_or_regenerates(tmp_path: Path) -> None:
    first = g.ensure_generated(tmp_path, scale=0.02, seed=1)
    before = file_bytes(tmp_path)
    stamp = first["dwp.uc_claims"].paths[0].stat().st_mtime_ns
    again = g.ensure_generated(tmp_path, scale=0.02, seed=1)
    assert again == first and again["dwp.uc_claims"].paths[0].stat().st_mtime_ns == stamp
    other = g.ensure_generated(tmp_path, scale=0.02, seed=2)
    assert other.seed == 2 and file_bytes(tmp_path) != before
    # A damaged file is noticed and regenerated.
    other["dfe.learners"].paths[0].write_bytes(b"broken")
    repaired = g.ensure_generated(tmp_path, scale=0.02, seed=2)
    assert pq.ParquetFile(repaired["dfe.learners"].paths[0]).metadata.num_rows == repaired["dfe.learners"].rows


def test_extracts_are_wide_so_few_columns_are_a_small_part_of_the_bytes(demo: g.DemoData) -> None:
    def share(dataset_id: str, columns: set[str]) -> float:
        used = total = 0
        for path in demo[dataset_id].paths:
            meta = pq.ParquetFile(path).metadata
            for i in range(meta.num_row_groups):
                for j in range(meta.num_columns):
                    chunk = meta.row_group(i).column(j)
                    total += chunk.total_compressed_size
                    used += chunk.total_compressed_size if chunk.path_in_schema in columns else 0
        return used / total

    assert 25 <= len(g.SCHEMAS["dwp.uc_claims"]) <= 35
    assert 25 <= len(g.SCHEMAS["hmrc.paye_employments"]) <= 35
    assert share("dwp.uc_claims", {"region", "award_amount", "opted_out"}) < 0.15
    assert share("hmrc.paye_employments", {"tax_month", "tax_paid"}) < 0.1


def test_catalogue_registers_every_generated_column() -> None:
    yaml = pytest.importorskip("yaml")
    catalog = Path(__file__).resolve().parents[2] / "catalog"
    registered = {}
    for path in catalog.glob("*.yaml"):
        for dataset in yaml.safe_load(path.read_text())["datasets"]:
            registered[dataset["id"]] = dataset["columns"]
    roles = {"direct_identifier", "linkage_key", "dimension", "measure"}
    for dataset_id, schema in g.SCHEMAS.items():
        columns = registered[dataset_id]
        assert list(columns) == schema.names, dataset_id
        for name, column in columns.items():
            assert column["role"] in roles and column.get("description"), (dataset_id, name)
            kind = schema.field(name).type
            if pa.types.is_floating(kind):  # amounts are only ever aggregated
                assert column["role"] == "measure", (dataset_id, name)
            if column["role"] == "measure":
                assert pa.types.is_floating(kind) or pa.types.is_integer(kind), (dataset_id, name)
