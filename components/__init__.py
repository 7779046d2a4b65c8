"""Rasa glue: custom NLU components, the in-server safety policy and the alert broker."""
