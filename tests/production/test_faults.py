"""Faults against the production shape on throwaway PostgreSQL and Redis servers of the tests' own (scripts/faults/):
each test asserts what a patient would notice, with the script's findings as the message."""
from __future__ import annotations

import pytest

from faults import action_server, hostile_requests, postgres_restart, redis_stop

pytestmark = pytest.mark.production


def explain(result) -> str:
    return result.summary()


def test_hostile_requests_to_every_public_endpoint_get_4xx_and_the_server_keeps_serving(production_stack):
    assert hostile_requests.fixed_cases(production_stack) == []
    found = [n for n in hostile_requests.fuzz(production_stack, examples=150) if not n.startswith("(info)")]
    assert found == []
    assert hostile_requests.still_serving(production_stack) == []


def test_no_route_is_known_to_answer_with_a_server_error(production_stack):
    assert hostile_requests.known_server_errors(production_stack) == []
    for path in ("/webhooks/telegram/webhook", "/webhooks/telegram/set_webhook"):
        answer = hostile_requests.http_request(production_stack.rasa_url, "GET", path)
        assert answer.status is not None and 400 <= answer.status < 500, (path, answer.status)


def test_action_server_stopping_mid_conversation_gets_a_graceful_reply_red_flags_still_escalate_and_it_recovers(
        production_stack):
    result = action_server.check(production_stack)
    assert result.ok, explain(result)


def test_postgresql_restart_under_load_loses_no_acknowledged_message_and_conversations_continue(production_stack):
    result = postgres_restart.check(production_stack, conversations=16)
    assert result.ok, explain(result)


def test_a_database_outage_longer_than_the_retry_budget_is_a_clear_503_and_nothing_is_half_stored(
        production_stack):
    result = postgres_restart.check_long_outage(production_stack)
    assert result.ok, explain(result)


def test_redis_stopping_is_a_clear_error_and_no_conversation_is_corrupted(production_stack):
    result = redis_stop.check(production_stack)
    assert result.ok, explain(result)
