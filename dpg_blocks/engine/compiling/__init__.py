"""From the document to running modules: plans, validation, code generation, block code."""
