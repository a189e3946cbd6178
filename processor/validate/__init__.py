"""The form and its check: reading workbooks, normalising values, validating a submission, the roster, the blank form and its annotated copy."""
