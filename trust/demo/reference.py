"""Reference data for the synthetic departments: places, industries, subjects, conditions.

Plain data, no logic. Codes are real (ONS 2023 local authority districts and regions,
SIC 2007, ESFA sector subject areas, DWP PIP condition groups) so demo output reads like
the statistics analysts know; populations are rounded mid-2022 estimates used only as
sampling weights.
"""

from __future__ import annotations

REGIONS: dict[str, str] = {
    "E12000001": "North East",
    "E12000002": "North West",
    "E12000003": "Yorkshire and The Humber",
    "E12000004": "East Midlands",
    "E12000005": "West Midlands",
    "E12000006": "East of England",
    "E12000007": "London",
    "E12000008": "South East",
    "E12000009": "South West",
}

# (LAD code, name, region code, population)
LOCAL_AUTHORITIES: tuple[tuple[str, str, str, int], ...] = (
    ("E06000047", "County Durham", "E12000001", 526_000),
    ("E08000021", "Newcastle upon Tyne", "E12000001", 307_000),
    ("E08000024", "Sunderland", "E12000001", 278_000),
    ("E06000057", "Northumberland", "E12000001", 324_000),
    ("E08000037", "Gateshead", "E12000001", 197_000),
    ("E06000002", "Middlesbrough", "E12000001", 146_000),
    ("E08000003", "Manchester", "E12000002", 568_000),
    ("E08000012", "Liverpool", "E12000002", 496_000),
    ("E08000001", "Bolton", "E12000002", 298_000),
    ("E08000006", "Salford", "E12000002", 275_000),
    ("E06000049", "Cheshire East", "E12000002", 406_000),
    ("E06000008", "Blackburn with Darwen", "E12000002", 156_000),
    ("E06000009", "Blackpool", "E12000002", 141_000),
    ("E08000035", "Leeds", "E12000003", 822_000),
    ("E08000019", "Sheffield", "E12000003", 559_000),
    ("E08000032", "Bradford", "E12000003", 552_000),
    ("E08000034", "Kirklees", "E12000003", 438_000),
    ("E06000010", "Kingston upon Hull, City of", "E12000003", 269_000),
    ("E06000014", "York", "E12000003", 203_000),
    ("E06000016", "Leicester", "E12000004", 374_000),
    ("E06000018", "Nottingham", "E12000004", 324_000),
    ("E06000015", "Derby", "E12000004", 263_000),
    ("E06000062", "West Northamptonshire", "E12000004", 426_000),
    ("E07000138", "Lincoln", "E12000004", 104_000),
    ("E06000017", "Rutland", "E12000004", 41_000),
    ("E08000025", "Birmingham", "E12000005", 1_158_000),
    ("E08000026", "Coventry", "E12000005", 349_000),
    ("E08000028", "Sandwell", "E12000005", 344_000),
    ("E08000027", "Dudley", "E12000005", 324_000),
    ("E06000051", "Shropshire", "E12000005", 327_000),
    ("E08000031", "Wolverhampton", "E12000005", 265_000),
    ("E06000021", "Stoke-on-Trent", "E12000005", 260_000),
    ("E06000032", "Luton", "E12000006", 226_000),
    ("E06000031", "Peterborough", "E12000006", 218_000),
    ("E06000055", "Bedford", "E12000006", 187_000),
    ("E06000033", "Southend-on-Sea", "E12000006", 181_000),
    ("E07000245", "West Suffolk", "E12000006", 181_000),
    ("E07000008", "Cambridge", "E12000006", 146_000),
    ("E07000148", "Norwich", "E12000006", 145_000),
    ("E09000008", "Croydon", "E12000007", 392_000),
    ("E09000003", "Barnet", "E12000007", 390_000),
    ("E09000025", "Newham", "E12000007", 357_000),
    ("E09000005", "Brent", "E12000007", 341_000),
    ("E09000030", "Tower Hamlets", "E12000007", 325_000),
    ("E09000022", "Lambeth", "E12000007", 318_000),
    ("E09000012", "Hackney", "E12000007", 262_000),
    ("E09000033", "Westminster", "E12000007", 209_000),
    ("E09000001", "City of London", "E12000007", 8_600),
    ("E06000042", "Milton Keynes", "E12000008", 290_000),
    ("E06000035", "Medway", "E12000008", 282_000),
    ("E06000043", "Brighton and Hove", "E12000008", 277_000),
    ("E06000045", "Southampton", "E12000008", 250_000),
    ("E06000044", "Portsmouth", "E12000008", 208_000),
    ("E06000038", "Reading", "E12000008", 175_000),
    ("E07000178", "Oxford", "E12000008", 163_000),
    ("E06000046", "Isle of Wight", "E12000008", 141_000),
    ("E06000052", "Cornwall", "E12000009", 573_000),
    ("E06000054", "Wiltshire", "E12000009", 514_000),
    ("E06000023", "Bristol, City of", "E12000009", 479_000),
    ("E06000058", "Bournemouth, Christchurch and Poole", "E12000009", 401_000),
    ("E06000025", "South Gloucestershire", "E12000009", 294_000),
    ("E06000026", "Plymouth", "E12000009", 266_000),
    ("E07000041", "Exeter", "E12000009", 131_000),
    ("E06000053", "Isles of Scilly", "E12000009", 2_100),
)

# (SIC 2007 code, section, description, share of businesses, size profile,
#  turnover per employee in GBP thousands, median monthly pay in GBP, UC affinity)
# Size profiles: "micro" (mostly 0-9), "mixed", "large" (public bodies, hospitals, banks).
# UC affinity weights where claimants in work are employed (low-paid sectors dominate).
SIC_CODES: tuple[tuple[str, str, str, float, str, float, float, float], ...] = (
    ("01110", "A", "Growing of cereals (except rice), leguminous crops and oil seeds", 1.5, "micro", 180, 2100, 0.6),
    ("01410", "A", "Raising of dairy cattle", 1.0, "micro", 150, 2000, 0.6),
    ("06100", "B", "Extraction of crude petroleum", 0.0, "large", 2500, 6500, 0.0),
    ("10710", "C", "Manufacture of bread; manufacture of fresh pastry goods and cakes", 1.2, "mixed", 110, 2100, 1.2),
    ("19201", "C", "Mineral oil refining", 0.0, "large", 3000, 5200, 0.0),
    ("21200", "C", "Manufacture of pharmaceutical preparations", 0.3, "large", 450, 4300, 0.2),
    ("25620", "C", "Machining", 1.5, "mixed", 120, 2700, 0.6),
    ("29100", "C", "Manufacture of motor vehicles", 0.2, "large", 400, 3500, 0.3),
    ("35110", "D", "Production of electricity", 0.0, "large", 900, 4200, 0.0),
    ("38110", "E", "Collection of non-hazardous waste", 0.6, "mixed", 170, 2500, 0.8),
    ("41201", "F", "Construction of commercial buildings", 2.0, "mixed", 260, 3000, 0.7),
    ("41202", "F", "Construction of domestic buildings", 3.0, "micro", 220, 2800, 0.8),
    ("43210", "F", "Electrical installation", 3.5, "micro", 140, 2900, 0.5),
    ("43220", "F", "Plumbing, heat and air-conditioning installation", 3.5, "micro", 130, 2800, 0.5),
    ("45200", "G", "Maintenance and repair of motor vehicles", 3.0, "micro", 120, 2300, 0.9),
    ("46900", "G", "Non-specialised wholesale trade", 2.0, "mixed", 400, 2500, 0.7),
    ("47110", "G", "Retail sale in non-specialised stores with food, beverages or tobacco predominating", 4.0, "mixed", 160, 1700, 3.0),
    ("47190", "G", "Other retail sale in non-specialised stores", 2.5, "mixed", 140, 1650, 2.5),
    ("49410", "H", "Freight transport by road", 2.5, "mixed", 150, 2600, 1.0),
    ("52290", "H", "Other transportation support activities", 1.0, "mixed", 200, 2700, 0.8),
    ("55100", "I", "Hotels and similar accommodation", 1.5, "mixed", 60, 1600, 2.5),
    ("56101", "I", "Licensed restaurants", 4.0, "micro", 50, 1450, 3.5),
    ("56102", "I", "Unlicensed restaurants and cafes", 3.5, "micro", 45, 1350, 3.5),
    ("56302", "I", "Public houses and bars", 3.0, "micro", 55, 1400, 3.0),
    ("62012", "J", "Business and domestic software development", 4.0, "micro", 170, 4300, 0.2),
    ("62020", "J", "Information technology consultancy activities", 5.0, "micro", 180, 4200, 0.2),
    ("64191", "K", "Banks", 0.1, "large", 600, 4800, 0.2),
    ("66220", "K", "Activities of insurance agents and brokers", 1.0, "micro", 200, 3200, 0.3),
    ("68100", "L", "Buying and selling of own real estate", 2.0, "micro", 350, 2900, 0.3),
    ("68209", "L", "Other letting and operating of own or leased real estate", 3.0, "micro", 250, 2600, 0.4),
    ("69201", "M", "Accounting and auditing activities", 3.0, "micro", 110, 3100, 0.3),
    ("70229", "M", "Management consultancy activities other than financial management", 6.0, "micro", 150, 3800, 0.2),
    ("71122", "M", "Engineering related scientific and technical consulting activities", 2.0, "micro", 140, 3600, 0.2),
    ("78200", "N", "Temporary employment agency activities", 1.5, "mixed", 60, 1800, 3.0),
    ("81210", "N", "General cleaning of buildings", 2.5, "mixed", 35, 1300, 3.0),
    ("82990", "N", "Other business support service activities n.e.c.", 3.0, "micro", 120, 2200, 1.0),
    ("84110", "O", "General public administration activities", 0.3, "large", 90, 2900, 0.8),
    ("85200", "P", "Primary education", 1.0, "mixed", 55, 2300, 1.2),
    ("85310", "P", "General secondary education", 0.6, "mixed", 60, 2600, 0.9),
    ("85590", "P", "Other education n.e.c.", 2.0, "micro", 60, 2000, 0.8),
    ("86101", "Q", "Hospital activities", 0.3, "large", 70, 2900, 1.5),
    ("86210", "Q", "General medical practice activities", 0.8, "mixed", 65, 2500, 1.0),
    ("87100", "Q", "Residential nursing care activities", 1.2, "mixed", 40, 1800, 3.0),
    ("88100", "Q", "Social work activities without accommodation for the elderly and disabled", 1.5, "mixed", 35, 1700, 3.0),
    ("90030", "R", "Artistic creation", 2.0, "micro", 70, 1900, 0.6),
    ("93110", "R", "Operation of sports facilities", 1.0, "mixed", 60, 1600, 1.5),
    ("94990", "S", "Activities of other membership organisations n.e.c.", 1.5, "micro", 60, 2000, 0.8),
    ("96020", "S", "Hairdressing and other beauty treatment", 4.0, "micro", 35, 1400, 2.0),
)

# ESFA sector subject areas, tier 1.
SUBJECT_AREAS: tuple[tuple[str, float], ...] = (
    ("Health, Public Services and Care", 14.0),
    ("Science and Mathematics", 4.0),
    ("Agriculture, Horticulture and Animal Care", 3.0),
    ("Engineering and Manufacturing Technologies", 9.0),
    ("Construction, Planning and the Built Environment", 7.0),
    ("Information and Communication Technology", 6.0),
    ("Retail and Commercial Enterprise", 9.0),
    ("Leisure, Travel and Tourism", 3.0),
    ("Arts, Media and Publishing", 5.0),
    ("History, Philosophy and Theology", 0.5),
    ("Social Sciences", 1.0),
    ("Languages, Literature and Culture", 5.0),
    ("Education and Training", 4.0),
    ("Preparation for Life and Work", 17.0),
    ("Business, Administration and Law", 12.5),
)

QUALIFICATION_LEVELS: tuple[str, ...] = ("Entry Level", "Level 1", "Level 2", "Level 3", "Level 4+")

# DWP Stat-Xplore PIP main disabling condition groups, with approximate caseload shares.
PIP_CONDITION_GROUPS: tuple[tuple[str, float], ...] = (
    ("Psychiatric disorder", 38.0),
    ("Musculoskeletal disease (general)", 19.0),
    ("Neurological disease", 13.0),
    ("Musculoskeletal disease (regional)", 11.0),
    ("Respiratory disease", 4.0),
    ("Cardiovascular disease", 3.0),
    ("Learning disability", 3.0),
    ("Autoimmune disease (connective tissue disorders)", 2.0),
    ("Malignant disease", 2.0),
    ("Endocrine disease", 2.0),
    ("Visual disease", 1.5),
    ("Hearing disorders", 1.5),
)

# PIP weekly rates 2025/26 (GBP).
PIP_DAILY_LIVING_RATES: dict[str, float] = {"None": 0.0, "Standard": 73.90, "Enhanced": 110.40}
PIP_MOBILITY_RATES: dict[str, float] = {"None": 0.0, "Standard": 29.20, "Enhanced": 77.05}

CONDITIONALITY_REGIMES: tuple[tuple[str, float], ...] = (
    ("Intensive Work Search", 0.38),
    ("Light Touch", 0.08),
    ("Working - No Requirements", 0.16),
    ("No Work Requirements", 0.32),
    ("Planning for Work", 0.03),
    ("Preparing for Work", 0.03),
)

AGE_BANDS: tuple[tuple[str, int], ...] = (
    ("16-24", 16), ("25-34", 25), ("35-44", 35), ("45-54", 45), ("55-64", 55), ("65+", 65),
)

SIZE_BANDS: tuple[tuple[str, int], ...] = (
    ("Micro (0-9)", 0), ("Small (10-49)", 10), ("Medium (50-249)", 50), ("Large (250+)", 250),
)
