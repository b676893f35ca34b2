"""`tongbi run`: `pipeline` puts the jobs together: `lock`, `seeding` (extraction into the seed
files), `build` (dbt), the audit (tongbi.gate), `publish`, `recovery`, `state` (fingerprints and
the published state), `summary` and `history`."""
