"""The OC capability self-assessment: pure, sans-IO.

An Operational Centre scores itself, area by area, against a versioned questionnaire
(`questionnaire-<version>.toml`, loaded by `questionnaire.load`): where it is today
(current) and where it means to be (target) on a 0-4 maturity scale, with a note each.
`questionnaire.Questionnaire.check` decides whether a profile's answers are valid;
`matrix` puts every OC's profile side by side as the federation's capability matrix, its
gaps and summary, and writes it as CSV or a printable HTML page.

Nothing here performs I/O beyond reading its own packaged questionnaire, or reads a clock:
times arrive as `*_ms` arguments, and results leave as values.
"""
