"""A toy signal that proves the seams: one module per layer, one line per registry.

- `analysis` (the `monitor/` layer): plain records in, a typed result out;
- `job` (the `jobs/` layer): the job, its figures, its built-in alert rule (a gate);
- `section` (the `dashboards/` layer): its report section and overview card.

`tests/test_new_signal.py` adds `job` to `jobs.registry.JOB_MODULES` and `section` to
`dashboards.registry.SECTION_MODULES` (the one line each registry needs) and finds the
signal in `ragmon run --help`, `status`, the crontab, the report and the alerts.
"""
