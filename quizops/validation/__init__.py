"""Data validation: TFDV statistics, curated schema, anomalies, drift, skew and domain checks.

Runs in the validation environment (TensorFlow Data Validation 1.16). TFDV is imported by the
submodules that need it, never by this package's ``__init__`` and never by ``quizops`` itself,
so that the core environment (which has no TFDV) can import the rest of the library and the
command line. The entry point of the pipeline stage is
:func:`quizops.validation.gate.validate_data`.
"""
