"""The clinic's triage assistant domain: pure Python, no Rasa imports at module level.

Everything here is importable and testable without a trained model or a running server.
Rasa glue lives in `components/` (NLU graph and policy) and `actions/` (action server).
"""
