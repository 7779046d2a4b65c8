"""Configuration: safe local defaults, clear errors naming the bad variable, no secrets in repr."""
from datetime import time

import pytest

from bot.settings import (
    DEMO_CLINIC_PHONE, REPO_ROOT, OpeningPeriod, cliniko_base_url_for_key, load_settings, parse_clinic_hours,
)

CLINIKO = {
    "BOOKING_BACKEND": "cliniko", "CLINIKO_API_KEY": "abc-au3", "CLINIKO_BUSINESS_ID": "1",
    "CLINIKO_PRACTITIONER_ID": "2", "CLINIKO_APPOINTMENT_TYPE_ID": "3",
    "CLINIKO_USER_AGENT": "Upwell Health (it@upwell.example)",
}


def test_defaults_run_offline_with_local_backend_and_demo_clinic():
    settings = load_settings({})
    assert settings.clinic_name == "Upwell Health"
    assert settings.clinic_phone == DEMO_CLINIC_PHONE
    assert "CLINIC_PHONE" in settings.demo_values_in_use
    assert settings.clinic_booking_url.startswith("https://upwell.example/")  # reserved TLD: a demo
    assert settings.booking_backend == "local"
    assert settings.clinic_timezone == "Australia/Melbourne"
    assert settings.clinic_locations == ("Upwell Health",)
    assert settings.booking_db_url == f"sqlite:///{REPO_ROOT / 'var' / 'clinic.db'}"
    assert settings.review_base_url == "http://localhost:8000"
    assert not settings.alerts_on


def test_environment_overrides_each_setting():
    settings = load_settings({
        "CLINIC_NAME": "Knee Co", "CLINIC_PHONE": "(02) 5550 1234", "CLINIC_TIMEZONE": "Australia/Perth",
        "CLINIC_LOCATIONS": "Carlton, Fitzroy ,", "BOOKING_DB_URL": "postgresql://u@h/db",
        "ALERT_SMTP_HOST": "mail", "ALERT_SMTP_PORT": "2525", "ALERT_SMTP_FROM": "bot@k.example",
        "ALERT_SMTP_TO": "a@k.example, b@k.example", "REVIEW_BASE_URL": "https://staff.k.example/",
    })
    assert settings.clinic_name == "Knee Co"
    assert settings.demo_values_in_use == ("CLINIC_BOOKING_URL", "CLINIC_PRIVACY_URL")
    assert settings.clinic_locations == ("Carlton", "Fitzroy")
    assert settings.booking_db_url == "postgresql://u@h/db"
    assert settings.alert_smtp_port == 2525
    assert settings.alert_smtp_to == ("a@k.example", "b@k.example")
    assert settings.email_alerts_on and not settings.webhook_alerts_on
    assert settings.review_base_url == "https://staff.k.example"


def test_relative_sqlite_path_is_made_absolute_against_the_repo():
    assert load_settings({"BOOKING_DB_URL": "sqlite:///var/other.db"}).booking_db_url == (
        f"sqlite:///{REPO_ROOT / 'var' / 'other.db'}")
    assert load_settings({"BOOKING_DB_URL": "sqlite:////tmp/x.db"}).booking_db_url == "sqlite:////tmp/x.db"


@pytest.mark.parametrize("env, key", [
    ({"BOOKING_BACKEND": "fax"}, "BOOKING_BACKEND"),
    ({"CLINIC_TIMEZONE": "Mars/Olympus"}, "CLINIC_TIMEZONE"),
    ({"CLINIC_HOURS": "mon-fri 9-5"}, "CLINIC_HOURS"),
    ({"CLINIC_HOURS": "someday 09:00-17:00"}, "CLINIC_HOURS"),
    ({"CLINIC_HOURS": "mon 17:00-09:00"}, "CLINIC_HOURS"),
    ({"ALERT_SMTP_PORT": "smtp"}, "ALERT_SMTP_PORT"),
    ({**CLINIKO, "CLINIKO_API_KEY": ""}, "CLINIKO_API_KEY"),
    ({**CLINIKO, "CLINIKO_USER_AGENT": "python-requests"}, "CLINIKO_USER_AGENT"),
    ({"BOOKING_BACKEND": "webhook", "BOOKING_WEBHOOK_URL": "https://h.example/x"}, "BOOKING_WEBHOOK_SECRET"),
    ({"BOOKING_BACKEND": "webhook", "BOOKING_WEBHOOK_URL": "http://crm.example/x",
      "BOOKING_WEBHOOK_SECRET": "s"}, "BOOKING_WEBHOOK_URL"),
    ({"ALERT_WEBHOOK_URL": "https://h.example/a"}, "ALERT_WEBHOOK_SECRET"),
    ({"ALERT_SMTP_HOST": "mail"}, "ALERT_SMTP_FROM"),
])
def test_bad_configuration_is_refused_naming_the_variable(env, key):
    with pytest.raises(ValueError, match=key):
        load_settings(env)


def test_secrets_never_appear_in_repr():
    settings = load_settings({**CLINIKO, "CLINIKO_API_KEY": "supersecretkey-au2", "ALERT_SMTP_PASSWORD": "pw123",
                              "ALERT_WEBHOOK_URL": "https://h.example/a", "ALERT_WEBHOOK_SECRET": "hooksecret"})
    text = repr(settings)
    for secret in ("supersecretkey", "pw123", "hooksecret"):
        assert secret not in text


@pytest.mark.parametrize("key, base", [
    ("MS0xLTE2NjI5ODk1Nzk-au2", "https://api.au2.cliniko.com/v1"),
    ("MS0xLTE2NjI5ODk1Nzk-uk1", "https://api.uk1.cliniko.com/v1"),
    ("MS0xLTE2NjI5ODk1Nzk", "https://api.au1.cliniko.com/v1"),
    ("", "https://api.au1.cliniko.com/v1"),
])
def test_cliniko_shard_comes_from_the_key_suffix(key, base):
    assert cliniko_base_url_for_key(key) == base
    assert load_settings({**CLINIKO, "CLINIKO_API_KEY": key or "x"}).cliniko_api_base == (
        base if key else "https://api.au1.cliniko.com/v1")


def test_cliniko_base_url_override_is_for_tests():
    settings = load_settings({**CLINIKO, "CLINIKO_BASE_URL": "http://127.0.0.1:9/v1/"})
    assert settings.cliniko_api_base == "http://127.0.0.1:9/v1"


def test_clinic_hours_accept_ranges_lists_and_split_days():
    periods = parse_clinic_hours("mon-wed 07:00-12:00,13:00-19:00; sat,sun 08:00-12:30; fri 09:00-24:00")
    assert OpeningPeriod(0, time(7), time(12)) in periods
    assert OpeningPeriod(2, time(13), time(19)) in periods
    assert OpeningPeriod(6, time(8), time(12, 30)) in periods
    assert OpeningPeriod(4, time(9), time(23, 59, 59)) in periods
    assert not [p for p in periods if p.weekday == 3]
